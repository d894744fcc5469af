namespace Actorvisor.Kvm.Tests;

/// <summary>
/// A [Fact] that needs a real VFIO group (/dev/vfio/N): present in a `tests/kvm-harness/run.sh --vfio` run, where
/// the L1's emulated edu PCI device is bound to vfio-pci; skipped, with the reason, everywhere else.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class VfioGroupFactAttribute : FactAttribute
{
    /// <summary>Decides the skip when the tests are discovered.</summary>
    public VfioGroupFactAttribute()
    {
        if (FirstGroup() is null) Skip = "no VFIO group in /dev/vfio (run tests/kvm-harness/run.sh --vfio)";
    }

    /// <summary>The lowest-numbered VFIO group node, or null.</summary>
    public static string? FirstGroup() =>
        Directory.Exists("/dev/vfio")
            ? Directory.GetFiles("/dev/vfio")
                .Select(p => (Path: p, Ok: int.TryParse(Path.GetFileName(p), out int n), Number: n))
                .Where(g => g.Ok).OrderBy(g => g.Number).Select(g => g.Path).FirstOrDefault()
            : null;
}
