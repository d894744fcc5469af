namespace Actorvisor.Hardware.Soft;

/// <summary>How an event reached the vCPU; decides the return address, the gate DPL check and the EXT bit.</summary>
internal enum GuestEventKind
{
    /// <summary>A CPU exception: the return address is the faulting instruction, some vectors push an error code.</summary>
    Exception,
    /// <summary>INT n, INT3 or INTO: the return address is the next instruction, the gate's DPL is checked.</summary>
    Software,
    /// <summary>An external interrupt queued by the VMM (IVirtualCpu.QueueExternalInterrupt).</summary>
    External,
}

/// <summary>One event to deliver through the guest's IVT or IDT: vector, kind, error code and (for a #PF the runtime raised) CR2.</summary>
internal readonly record struct GuestEvent(uint Vector, GuestEventKind Kind, uint ErrorCode = 0, ulong? Cr2 = null)
{
    /// <summary>#DE.</summary>
    public const uint DivideError = 0;
    /// <summary>#UD.</summary>
    public const uint InvalidOpcode = 6;
    /// <summary>#DF.</summary>
    public const uint DoubleFault = 8;
    /// <summary>#TS.</summary>
    public const uint InvalidTss = 10;
    /// <summary>#NP.</summary>
    public const uint SegmentNotPresent = 11;
    /// <summary>#SS.</summary>
    public const uint StackFault = 12;
    /// <summary>#GP.</summary>
    public const uint GeneralProtection = 13;
    /// <summary>#PF.</summary>
    public const uint PageFault = 14;

    /// <summary>True when delivering this event pushes an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP; exceptions only).</summary>
    public bool PushesErrorCode => Kind == GuestEventKind.Exception && Vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21;

    /// <summary>The EXT bit of error codes for faults raised while delivering this event.</summary>
    public uint External => Kind == GuestEventKind.Software ? 0u : 1u;

    /// <summary>SDM vol. 3 table 6-4: #DE, #TS, #NP, #SS, #GP.</summary>
    public bool IsContributory => Kind == GuestEventKind.Exception && Vector is 0 or 10 or 11 or 12 or 13;

    /// <summary>An exception with an error code.</summary>
    public static GuestEvent Fault(uint vector, uint errorCode) => new(vector, GuestEventKind.Exception, errorCode);

    /// <summary>"#GP (vector 13), error code 0x..." for exit reasons.</summary>
    public override string ToString() =>
        X86Exceptions.Describe(Vector, Kind == GuestEventKind.Software) + (Kind == GuestEventKind.External ? " (external)" : "")
        + (PushesErrorCode ? $", error code 0x{ErrorCode:x}" : "");
}
