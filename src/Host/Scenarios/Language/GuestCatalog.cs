using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Scenarios.Language;

/// <summary>A parameter of a catalog guest: its name in YAML, its allowed range and its default.</summary>
/// <param name="Name">The YAML key.</param>
/// <param name="Min">Smallest allowed value.</param>
/// <param name="Max">Largest allowed value.</param>
/// <param name="Default">Used when the key is absent.</param>
/// <param name="Description">What it controls.</param>
public sealed record GuestParameter(string Name, int Min, int Max, int Default, string Description);

/// <summary>A guest a scenario can boot by name.</summary>
/// <param name="Name">The name used in <c>guest:</c>.</param>
/// <param name="Parameters">What can be set.</param>
/// <param name="Builder">Assembles the guest from parameter values.</param>
public sealed record GuestEntry(string Name, IReadOnlyList<GuestParameter> Parameters, Func<IReadOnlyDictionary<string, int>, GuestImage> Builder)
{
    /// <summary>For a guest told where to write: the guest-physical range it writes, from its parameter values (checked against the VM's memory).</summary>
    public Func<IReadOnlyDictionary<string, int>, (ulong Address, ulong Length)>? Writes { get; init; }

    /// <summary>Assembles the guest.</summary>
    public GuestImage Build(IReadOnlyDictionary<string, int> values) => Builder(values);
}

/// <summary>The guests of <see cref="GuestLibrary"/> by the names scenarios use, with their parameters.</summary>
public static class GuestCatalog
{
    /// <summary>Every guest, in the order of <see cref="GuestLibrary.All"/>, then spin.</summary>
    public static IReadOnlyList<GuestEntry> Entries { get; } =
    [
        new("hello", [], _ => GuestLibrary.Hello()),
        new("exit-with", [new("code", 0, 255, 42, "the result code it exits with")], p => GuestLibrary.ExitWith(p["code"])),
        new("halt", [], _ => GuestLibrary.Halt()),
        new("triple-fault", [], _ => GuestLibrary.TripleFault()),
        new("memory-writer",
            [
                new("pages", 1, GuestLibrary.MaxMemoryWriterPages, 16, "4 KiB pages it fills and sums"),
                new("address", (int)GuestLayout.DataBase, int.MaxValue, (int)GuestLayout.DataBase, "where it fills them (e.g. a lazy memory region)"),
            ],
            p => GuestLibrary.MemoryWriter(p["pages"], (ulong)p["address"]))
        {
            Writes = p => ((ulong)p["address"], (ulong)p["pages"] * 4096),
        },
        new("mmio-prober", [], _ => GuestLibrary.MmioProber()),
        new("long-mode-hello", [], _ => GuestLibrary.LongModeHello()),
        new("two-vcpu-writer", [new("region-pages", 1, 0x10000, 16, "pages each vCPU fills")], p => GuestLibrary.TwoVcpuWriter(p["region-pages"])),
        new("port-io-loop", [new("writes", 1, int.MaxValue, 1000, "OUT instructions to port 0x80 before it prints and exits")], p => GuestLibrary.PortIoLoop(p["writes"])),
        // What every cluster node ships as "spin": a guest that runs until it is stopped.
        new("spin", [], _ => GuestLibrary.PortIoLoop(int.MaxValue)),
    ];

    /// <summary>The guest called <paramref name="name"/> (exact, lower-case), or null.</summary>
    public static GuestEntry? Find(string name) => Entries.FirstOrDefault(e => e.Name == name);

    /// <summary>"hello, exit-with, ..." for error messages.</summary>
    public static string Names => string.Join(", ", Entries.Select(e => e.Name));
}
