using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The KVM accelerator: <see cref="IAccelerator"/> over /dev/kvm. Holds /dev/kvm open and the CPUID leaves
/// KVM supports on this host (every vCPU gets them, which long mode needs).
/// </summary>
public sealed class KvmAccelerator : IAccelerator
{
    private readonly KvmFd _kvm;
    private readonly KvmCpuidEntry2[] _supportedCpuid;

    private KvmAccelerator(KvmFd kvm)
    {
        _kvm = kvm;
        _supportedCpuid = kvm.GetSupportedCpuid();
    }

    /// <summary>Opens <paramref name="path"/> (normally /dev/kvm).</summary>
    /// <exception cref="SyscallException">the device cannot be opened.</exception>
    /// <exception cref="NotSupportedException">the API version is not 12, or a capability Actorvisor needs is missing.</exception>
    public static KvmAccelerator Open(string path = KvmFd.DevicePath)
    {
        var kvm = KvmFd.Open(path);
        try
        {
            RequireCapabilities(kvm, path);
            return new KvmAccelerator(kvm);
        }
        catch
        {
            kvm.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether KVM is usable here: <paramref name="path"/> opens read/write, reports API version 12 and has the
    /// capabilities Actorvisor needs. <paramref name="reason"/> says why not (or describes KVM when it is).
    /// </summary>
    public static bool IsAvailable(out string reason, string path = KvmFd.DevicePath)
    {
        try
        {
            using var kvm = KvmFd.Open(path);
            RequireCapabilities(kvm, path);
            reason = $"KVM (API {kvm.GetApiVersion()}) at {path}";
            return true;
        }
        catch (SyscallException e)
        {
            reason = $"{path} is not usable: {e.Message}";
            return false;
        }
        catch (NotSupportedException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Whether hardware-assisted KVM is usable here: <see cref="IsAvailable"/> and a <see cref="KvmFlavor.HardwareAssisted"/>
    /// module. This is what automatic accelerator selection and the host-side KVM tests require.
    /// </summary>
    public static bool IsHardwareAssistedAvailable(out string reason, string path = KvmFd.DevicePath)
    {
        if (!IsAvailable(out reason, path)) return false;
        var flavor = KvmFlavorDetector.Detect();
        if (flavor == KvmFlavor.HardwareAssisted) return true;
        reason = flavor == KvmFlavor.Paravirtual
            ? $"{path} is paravirtual KVM (kvm_pvm, no VMX/SVM): not used automatically; pass --accelerator kvm to force it"
            : $"{path} answers but neither kvm_amd nor kvm_intel is loaded";
        return false;
    }

    /// <summary>The /dev/kvm wrapper, for callers that need system ioctls (capabilities, supported CPUID).</summary>
    public KvmFd Fd => _kvm;

    /// <summary>The CPUID leaves KVM supports on this host (KVM_GET_SUPPORTED_CPUID).</summary>
    public IReadOnlyList<KvmCpuidEntry2> SupportedCpuid => _supportedCpuid;

    /// <inheritdoc />
    public AcceleratorKind Kind => AcceleratorKind.Kvm;

    /// <inheritdoc />
    public string Description => $"KVM (API {_kvm.GetApiVersion()})";

    /// <inheritdoc />
    public IVirtualMachine CreateVm() => new KvmVirtualMachine(_kvm.CreateVm(), _kvm, _supportedCpuid);

    /// <summary>Closes /dev/kvm; VMs already created keep working until disposed.</summary>
    public void Dispose() => _kvm.Dispose();

    private static void RequireCapabilities(KvmFd kvm, string path)
    {
        // USER_MEMORY: memslots; IMMEDIATE_EXIT: kicks; EXT_CPUID: long mode needs KVM_SET_CPUID2.
        foreach (var cap in new[] { KvmCapability.UserMemory, KvmCapability.ImmediateExit, KvmCapability.ExtCpuid })
            if (kvm.CheckExtension(cap) <= 0)
                throw new NotSupportedException($"{path} lacks KVM_CAP_{CapName(cap)}, which Actorvisor needs");
    }

    private static string CapName(KvmCapability cap) => cap switch
    {
        KvmCapability.UserMemory => "USER_MEMORY",
        KvmCapability.ImmediateExit => "IMMEDIATE_EXIT",
        KvmCapability.ExtCpuid => "EXT_CPUID",
        _ => cap.ToString(),
    };
}
