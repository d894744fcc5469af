using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Api;

/// <summary>
/// The <see cref="VmSpecLimits"/> of this version's nodes, from the hardware layer: <see cref="GuestLayout"/>'s vCPU
/// and RAM ranges and <see cref="GuestCatalog"/>'s guests. The gateway and the CLI validate specs against it.
/// </summary>
public static class HardwareSpecLimits
{
    private static readonly Lazy<VmSpecLimits> Limits = new(() => new VmSpecLimits(GuestLayout.MaxVcpus, GuestLayout.MinRamBytes, GuestLayout.MaxRamBytes,
        [.. GuestCatalog.Entries.Select(e => new LibraryGuestNeeds(e.Name, e.Default.VcpuCount, e.Default.MinimumMemoryBytes))]));

    /// <summary>The limits (the library guests are assembled on first use, once).</summary>
    public static VmSpecLimits Current => Limits.Value;
}
