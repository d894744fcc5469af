using System.Runtime.InteropServices;
using Actorvisor.Hardware.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// Owns the shared mapping of a vCPU fd (struct kvm_run and the pages after it, such as the PIO data page)
/// and unmaps it exactly once.
/// </summary>
public sealed class KvmRunMapping : SafeHandle
{
    /// <summary>Maps <paramref name="size"/> bytes of <paramref name="vcpu"/> at offset 0, shared and read/write (api.rst 4.10).</summary>
    public KvmRunMapping(FileDescriptor vcpu, int size) : base(0, ownsHandle: true)
    {
        if (size < System.Runtime.CompilerServices.Unsafe.SizeOf<Abi.KvmRun>())
            throw new ArgumentOutOfRangeException(nameof(size), $"KVM_GET_VCPU_MMAP_SIZE {size} is smaller than struct kvm_run");
        Size = size;
        SetHandle(Sys.Mmap(0, (ulong)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.Fd, 0, $"kvm_run of {vcpu.What}"));
    }

    /// <summary>Bytes mapped.</summary>
    public int Size { get; }

    /// <summary>The mapped address; valid while the handle is open.</summary>
    public nint Address => IsClosed ? throw new ObjectDisposedException(nameof(KvmRunMapping)) : handle;

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override unsafe bool ReleaseHandle() => munmap((void*)handle, (size_t)(ulong)Size) == 0;
}
