using System.Runtime.InteropServices;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// The software accelerator: runs x86 guests without /dev/kvm on Unicorn 2 (QEMU's TCG as a library,
/// Debian package libunicorn2), one engine per vCPU, with the same exits as KVM.
/// </summary>
public sealed class SoftAccelerator : IAccelerator
{
    /// <summary>Loads libunicorn.so.2 and checks that its CPU state layout is the one this accelerator drives.</summary>
    /// <exception cref="PlatformNotSupportedException">libunicorn.so.2 cannot be loaded.</exception>
    /// <exception cref="NotSupportedException">the library is not a Unicorn 2.0.1-compatible build.</exception>
    public unsafe SoftAccelerator()
    {
        uint combined;
        try
        {
            combined = UnicornNative.uc_version(null, null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new PlatformNotSupportedException(
                $"The software accelerator needs {UnicornNative.Library} (Unicorn 2), which could not be loaded: " +
                "install the Debian package libunicorn2 (apt-get install libunicorn2). " + ex.Message, ex);
        }
        UnicornLayoutProbe.EnsureCompatible(combined);
        if (!NativeLibrary.TryGetExport(NativeLibrary.Load(UnicornNative.Library), UnicornNative.FlushTlbExport, out _))
            throw new NotSupportedException(
                $"{UnicornNative.Library} (uc_version 0x{combined:x}) does not export {UnicornNative.FlushTlbExport}, which the software MMU needs to flush a vCPU's TLB. Install Debian's libunicorn2 2.0.1.");
        Version = combined;
        Description = $"software (Unicorn {combined >> 24}.{(combined >> 16) & 0xFF}.{(combined >> 8) & 0xFF}, uc_version 0x{combined:x})";
    }

    /// <summary>
    /// While a guest uses async page faults, every block gets the precise-fault code hook from the start (about 15x
    /// slower guest code), so even the first access to a missing lazy page in a block is guest-visible. Off (the
    /// default), a block gets the hook at its first such access, which blocks the vCPU once (SoftVcpu.TrySendPageNotPresent).
    /// </summary>
    public bool PreciseEverywhere { get; init; }

    /// <summary>uc_version's value: major &lt;&lt; 24 | minor &lt;&lt; 16 | patch &lt;&lt; 8 | extra (0x020001ff for 2.0.1).</summary>
    public uint Version { get; }

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Software;

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public IVirtualMachine CreateVm() => new SoftVm(this);

    /// <summary>Nothing to release: VMs own their engines.</summary>
    public void Dispose() { }
}
