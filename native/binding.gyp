{
  "targets": [
    {
      "target_name": "ts86_kvm",
      "sources": ["kvmshim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
