namespace Actorvisor.Hardware.Mmu;

/// <summary>The kind of guest access that faulted.</summary>
public enum MmuAccess
{
    /// <summary>A data read.</summary>
    Read,
    /// <summary>A data write.</summary>
    Write,
    /// <summary>An instruction fetch.</summary>
    Execute,
}
