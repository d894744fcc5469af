using System.Runtime.InteropServices;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The /dev/kvm file descriptor: system ioctls (api.rst section 4, "system ioctl"). Creating one checks
/// that the kernel speaks KVM API version 12, the only stable version.
/// </summary>
public sealed unsafe class KvmFd : IDisposable
{
    /// <summary>The device node.</summary>
    public const string DevicePath = "/dev/kvm";

    /// <summary>The KVM API version every kernel since 2.6.22 reports (api.rst 4.1).</summary>
    public const int StableApiVersion = 12;

    /// <summary>KVM_MAX_CPUID_ENTRIES in arch/x86/kvm/cpuid.c; the first buffer size tried.</summary>
    private const int InitialCpuidEntries = 256;

    private readonly FileDescriptor _fd;

    private KvmFd(FileDescriptor fd) => _fd = fd;

    /// <summary>Opens <paramref name="path"/> (normally /dev/kvm) and checks the API version.</summary>
    /// <exception cref="SyscallException">the device cannot be opened.</exception>
    /// <exception cref="NotSupportedException">the kernel reports an API version other than 12.</exception>
    public static KvmFd Open(string path = DevicePath)
    {
        var fd = Sys.Open(path, O_RDWR);
        var kvm = new KvmFd(fd);
        int version;
        try { version = kvm.GetApiVersion(); }
        catch { kvm.Dispose(); throw; }
        if (version != StableApiVersion)
        {
            kvm.Dispose();
            throw new NotSupportedException($"{path} reports KVM API version {version}; Actorvisor needs version {StableApiVersion}");
        }
        return kvm;
    }

    /// <summary>The owned descriptor.</summary>
    public FileDescriptor Descriptor => _fd;

    /// <summary>KVM_GET_API_VERSION: the API version (12 on every kernel in use).</summary>
    public int GetApiVersion() => Sys.Ioctl(_fd, KvmIoctls.GetApiVersion, 0, "KVM_GET_API_VERSION");

    /// <summary>KVM_CHECK_EXTENSION: 0 if <paramref name="capability"/> is absent, else 1 or a capability-specific value.</summary>
    public int CheckExtension(KvmCapability capability) =>
        Sys.Ioctl(_fd, KvmIoctls.CheckExtension, (ulong)capability, $"KVM_CHECK_EXTENSION({capability})");

    /// <summary>KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from a vCPU fd (kvm_run plus the pages after it).</summary>
    public int GetVcpuMmapSize() => Sys.Ioctl(_fd, KvmIoctls.GetVcpuMmapSize, 0, "KVM_GET_VCPU_MMAP_SIZE");

    /// <summary>
    /// KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can present to a guest (what the host CPU and KVM
    /// both support). Retries with a larger buffer while the kernel answers E2BIG.
    /// </summary>
    public KvmCpuidEntry2[] GetSupportedCpuid()
    {
        for (int capacity = InitialCpuidEntries; ; capacity *= 2)
        {
            var buffer = new KvmCpuidBuffer(capacity);
            int r = buffer.Ioctl(_fd, KvmIoctls.GetSupportedCpuid, out int err);
            if (r >= 0) return buffer.Entries();
            if (err != E2BIG || capacity >= 1 << 16) throw new SyscallException("ioctl(KVM_GET_SUPPORTED_CPUID)", err, _fd.What);
        }
    }

    /// <summary>
    /// KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a guest (emulated and hardware ones). Asks for the
    /// count first (the kernel answers E2BIG and writes it into nmsrs), then reads the list.
    /// </summary>
    public uint[] GetMsrIndexList()
    {
        uint count = 0;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var buffer = new uint[1 + count];
            buffer[0] = count;
            int r, err;
            fixed (uint* p = buffer) r = Sys.TryIoctl(_fd, KvmIoctls.GetMsrIndexList, p, out err);
            if (r >= 0) return buffer[1..(1 + (int)Math.Min(buffer[0], count))];
            if (err != E2BIG) throw new SyscallException("ioctl(KVM_GET_MSR_INDEX_LIST)", err, _fd.What);
            count = buffer[0];
        }
        throw new InvalidOperationException("KVM_GET_MSR_INDEX_LIST kept answering E2BIG: the list grew between calls");
    }

    /// <summary>KVM_CREATE_VM with machine type 0 (the default x86 VM): a VM with no memory and no vCPUs.</summary>
    public VmFd CreateVm()
    {
        int vmFd = Sys.Ioctl(_fd, KvmIoctls.CreateVm, 0, "KVM_CREATE_VM");
        var vm = new FileDescriptor(vmFd, "kvm-vm");
        try { return new VmFd(vm, GetVcpuMmapSize()); }
        catch { vm.Dispose(); throw; }
    }

    /// <summary>Closes /dev/kvm; VMs created from it stay valid (they hold their own reference in the kernel).</summary>
    public void Dispose() => _fd.Dispose();
}
