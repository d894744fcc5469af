namespace Actorvisor.Hardware.AsyncPf;

/// <summary>
/// Guest-physical memory as the async page-fault protocol needs it: 32-bit reads and writes of the guest's
/// shared area (struct kvm_vcpu_pv_apf_data). Called from the vCPU thread and from the thread that reports a page
/// ready; an address outside guest RAM answers false.
/// </summary>
public interface IAsyncPfGuestArea
{
    /// <summary>Reads the 32-bit value at <paramref name="gpa"/>; false if it is not guest RAM.</summary>
    bool TryRead32(ulong gpa, out uint value);

    /// <summary>Writes the 32-bit value at <paramref name="gpa"/>; false if it is not guest RAM.</summary>
    bool TryWrite32(ulong gpa, uint value);
}
