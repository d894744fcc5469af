namespace Actorvisor.Host.Scenarios.Language;

/// <summary>Where the pages of a VM's lazy memory come from.</summary>
public enum LazyStoreKind
{
    /// <summary>Every page is zero (fresh RAM that costs nothing until touched).</summary>
    Zero,
    /// <summary>A raw memory image file: page N is the 4 KiB at offset N * 4096 (past its end: zero).</summary>
    File,
}
