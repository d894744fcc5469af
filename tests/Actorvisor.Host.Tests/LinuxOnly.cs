// The host runs on Linux only (KVM, openat2, Unix file modes of secret files); so do its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
