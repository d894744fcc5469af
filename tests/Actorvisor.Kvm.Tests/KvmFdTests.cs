using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Kvm.Abi;

namespace Actorvisor.Kvm.Tests;

/// <summary>System ioctls on the real /dev/kvm.</summary>
public sealed class KvmFdTests : IDisposable
{
    private readonly KvmFd _kvm = KvmFd.Open();

    [Fact]
    public void Api_version_is_12()
    {
        Assert.Equal(12, _kvm.GetApiVersion());
    }

    [Fact]
    public void Check_extension_reports_memslots_and_user_memory()
    {
        Assert.True(_kvm.CheckExtension(KvmCapability.UserMemory) > 0, "KVM_CAP_USER_MEMORY");
        // api.rst: KVM_CAP_NR_MEMSLOTS is the maximum number of slots; KVM guarantees at least 32.
        Assert.True(_kvm.CheckExtension(KvmCapability.NrMemslots) >= 32);
        Assert.True(_kvm.CheckExtension(KvmCapability.ImmediateExit) > 0, "KVM_CAP_IMMEDIATE_EXIT");
    }

    [Fact]
    public void Vcpu_mmap_size_covers_kvm_run()
    {
        int size = _kvm.GetVcpuMmapSize();
        Assert.True(size >= System.Runtime.CompilerServices.Unsafe.SizeOf<KvmRun>(), $"mmap size {size}");
        Assert.Equal(0, size % 4096);
    }

    [Fact]
    public void Supported_cpuid_offers_long_mode()
    {
        var cpuid = _kvm.GetSupportedCpuid();
        var ext = Assert.Single(cpuid, e => e.Function == 0x8000_0001);
        Assert.True((ext.Edx & (1u << 29)) != 0, $"CPUID 0x80000001 EDX.LM clear: {ext}");
        Assert.Contains(cpuid, e => e.Function == 0);
    }

    public void Dispose() => _kvm.Dispose();
}
