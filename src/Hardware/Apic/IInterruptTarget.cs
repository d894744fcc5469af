namespace Actorvisor.Hardware.Apic;

/// <summary>
/// Where a <see cref="LocalApic"/> sends the vectors it delivers: the vCPU it belongs to. The APIC calls
/// <see cref="RaiseInterrupt"/> once per delivered vector, having already moved it from IRR to ISR (the CPU's
/// interrupt acknowledge happens at hand-off, as KVM's kvm_cpu_get_interrupt does when it injects); the target
/// queues it and delivers it through the guest's IDT when RFLAGS.IF and the interrupt shadow allow, in the order
/// raised. The guest's EOI write then lets the next one through. Called from any thread (the vCPU's own, another
/// vCPU's for an IPI, a host timer's), never with the APIC's lock held.
/// </summary>
public interface IInterruptTarget
{
    /// <summary>Queues external interrupt <paramref name="vector"/> (16-255) for delivery to the guest.</summary>
    void RaiseInterrupt(int vector);
}
