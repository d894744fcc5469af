namespace Actorvisor.Hardware.Apic;

/// <summary>The destination shorthand of an IPI (ICR bits 19:18).</summary>
public enum IpiShorthand
{
    /// <summary>The destination field says who.</summary>
    None = 0,
    /// <summary>The sender only.</summary>
    Self = 1,
    /// <summary>Every APIC, the sender included.</summary>
    AllIncludingSelf = 2,
    /// <summary>Every APIC but the sender.</summary>
    AllExcludingSelf = 3,
}
