export { AioContext, FdHandler, type AioOptions, type FdCallbacks } from './aio-context';
export { BottomHalf } from './bottom-half';
export { type Clock, HostClock, ManualClock, VirtualClock } from './clock';
export { Timer, TimerList } from './timer';
