namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>lazy-memory</c> of a VM: a region of guest RAM above its ordinary RAM whose pages come from a backing store
/// on first touch, through the VM's async page-fault actors. The store is always wrapped in a slow store (latency
/// <see cref="Latency"/>, 0 by default), so that the <c>slow-store</c> and <c>failing-store</c> faults can change it
/// while the VM runs.
/// </summary>
/// <param name="Size">Bytes: a positive multiple of 4 KiB.</param>
/// <param name="Address">Guest-physical start: 4 KiB aligned, above ordinary RAM, below the MMIO window.</param>
/// <param name="Store">Zero or file.</param>
/// <param name="File">For a file store: its path as written (relative to the scenario's folder).</param>
/// <param name="FullPath">For a file store: the absolute path.</param>
/// <param name="Latency">How long each read of the store waits first.</param>
/// <param name="Location">Where it was written.</param>
public sealed record LazyMemoryDeclaration(ulong Size, ulong Address, LazyStoreKind Store, string? File, string? FullPath, TimeSpan Latency, SourceLocation Location)
{
    /// <summary>Where lazy memory goes unless <c>address</c> says otherwise: 1 GiB, far above any scenario VM's RAM.</summary>
    public const ulong DefaultAddress = 0x4000_0000;

    /// <summary>"zero", "file data.raw", with the latency if any, for reports.</summary>
    public string Describe() =>
        (Store == LazyStoreKind.Zero ? "zero" : $"file {File}") + (Latency > TimeSpan.Zero ? $", {Durations.Format(Latency)} per read" : "");
}
