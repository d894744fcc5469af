using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Guests;

/// <summary>
/// The guests of <see cref="GuestLibrary"/> by the names they are booted by, with their parameters: the one
/// list both the scenario language (<c>guest:</c>) and a node's API (<c>image</c> without a '/') look names up in.
/// It is the same on every node of one version, so the API can check a name before a VM is placed.
/// </summary>
public static class GuestCatalog
{
    /// <summary>The name of a guest that runs until it is stopped (a port-I/O loop of 2^31 - 1 writes): for pause, resume and stop.</summary>
    public const string Spin = "spin";

    /// <summary>
    /// The async-PF scheduler guest (<see cref="AsyncPfSchedulerGuest"/>). Not in <see cref="GuestLibrary.All"/>: it walks
    /// lazy memory the VM must be given and its console's counts vary from run to run.
    /// </summary>
    public const string AsyncPfScheduler = "asyncpf-scheduler";

    /// <summary>
    /// The virtio-blk driver guest (<see cref="VirtioGuests.BlockDriver"/>). Not in <see cref="GuestLibrary.All"/>: it
    /// needs a disk (a VM's first virtio device) to succeed.
    /// </summary>
    public const string VirtioBlockDriver = "virtio-block-driver";

    /// <summary>
    /// The endless dirtying counter (<see cref="GuestLibrary.DirtyingLoop"/>). Not in <see cref="GuestLibrary.All"/>: it
    /// never ends, so it has no expected console.
    /// </summary>
    public const string DirtyingLoop = "dirtying-loop";

    // The lazy memory's default guest-physical address (1 GiB), where the scheduler guest walks by default.
    private const int DefaultLazyAddress = 0x4000_0000;

    /// <summary>Every guest, in the order of <see cref="GuestLibrary.All"/>, then the endless dirtying counter, the async-PF scheduler guest, the virtio-blk driver and spin.</summary>
    public static IReadOnlyList<CatalogGuest> Entries { get; } =
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
        new("boot-sector-hello", [], _ => BootProtocolGuests.BootSectorHello()),
        new("multiboot-info", [], _ => BootProtocolGuests.MultibootInfoReporter()),
        new("serial-echo", [], _ => GuestLibrary.SerialEcho()),
        new("counter",
            [
                new("count", 1, GuestLibrary.MaxCounterLines, 16, "lines it prints (count=0 .. count-1)"),
                new("ballast-pages", 0, GuestLibrary.MaxMemoryWriterPages - 1, 0, "pages it fills first and never touches again"),
            ],
            p => GuestLibrary.Counter(p["count"], p["ballast-pages"])),
        new("dirtying-counter",
            [
                new("count", 1, GuestLibrary.MaxCounterLines, GuestLibrary.MaxCounterLines, "lines it prints (count=0 .. count-1) before its checksum"),
                new("pages", 1, GuestLibrary.MaxMemoryWriterPages - 1, 1024, "4 KiB pages it keeps dirtying, round and round"),
                new("pages-per-line", 1, 4096, 4, "pages it dirties after each line"),
            ],
            p => GuestLibrary.DirtyingCounter(p["count"], p["pages"], p["pages-per-line"])),
        new(DirtyingLoop,
            [
                new("pages", 1, GuestLibrary.MaxMemoryWriterPages - 1, 1024, "4 KiB pages it keeps dirtying, round and round"),
                new("pages-per-line", 1, 4096, 4, "pages it dirties after each line"),
                new("sum-every", 1, int.MaxValue, GuestLibrary.DefaultDirtyingLoopSumEvery, "lines between its sums of the region (sum=, one increment per page dirtied)"),
            ],
            p => GuestLibrary.DirtyingLoop(p["pages"], p["pages-per-line"], p["sum-every"])),
        new(AsyncPfScheduler,
            [
                new("pages", 1, AsyncPfSchedulerGuest.MaxWalkPages, 64, "lazy pages its walker task reads (the first dword of each)"),
                new("address", (int)AsyncPfSchedulerGuest.MinWalkAddress, int.MaxValue, DefaultLazyAddress, "where the walked pages start (4 KiB aligned; the VM's lazy memory)"),
                new("compute-tasks", 1, AsyncPfSchedulerGuest.MaxComputeTasks, 3, "tasks that compute while the walker waits"),
                new("async-pf", 0, 1, 1, "1: use KVM's async page faults when the CPU offers them; 0: leave them off (every missing page blocks the vCPU)"),
            ],
            p => AsyncPfSchedulerGuest.Build((ulong)p["address"], p["pages"], p["compute-tasks"], p["async-pf"] == 1))
        {
            Reads = p => ((ulong)p["address"], (ulong)p["pages"] * 4096),
        },
        new(VirtioBlockDriver, [], _ => VirtioGuests.BlockDriver()),
        // A port-I/O loop, unlike GuestLibrary.Spin (which never exits to the VMM), exits on every write.
        new(Spin, [], _ => GuestLibrary.PortIoLoop(int.MaxValue)),
    ];

    /// <summary>Every guest name, in catalog order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Entries.Select(e => e.Name)];

    /// <summary>The guest called <paramref name="name"/> (exact, lower-case), or null.</summary>
    public static CatalogGuest? Find(string name) => Entries.FirstOrDefault(e => e.Name == name);

    /// <summary>The guest called <paramref name="name"/> with its default parameters (shared; loading copies it), if there is one.</summary>
    public static bool TryGet(string name, out GuestImage image)
    {
        image = Find(name)?.Default!;
        return image is not null;
    }

    /// <summary>True if an image reference names a file (it contains a '/', which no catalog name does) rather than a catalog guest.</summary>
    public static bool IsPath(string image) => image.Contains('/');
}
