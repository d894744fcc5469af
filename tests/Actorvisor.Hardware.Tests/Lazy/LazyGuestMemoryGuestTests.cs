using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Kvm;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>
/// A real guest reading lazy RAM: the accelerator's own accesses fault through the userfaultfd and the
/// synchronous resolver fills them from a memory image file.
/// </summary>
public class LazyGuestMemoryGuestTests
{
    private const int Page = 4096;
    private const ulong LazyGpa = 0x0400_0000; // 64 MiB: above the machine's own 32 MiB of RAM in slot 0

    [Fact]
    public void A_guest_on_the_software_accelerator_reading_lazy_pages_sees_the_file_and_memory_ends_identical_to_it()
    {
        // Unicorn reads guest RAM through uc_mem_map_ptr onto the lazy mapping: its loads fault in user mode
        // on the vCPU thread, inside native code.
        using var soft = new SoftAccelerator();
        GuestReadsLazyPages(soft);
    }

    [KvmFact]
    public void A_guest_on_kvm_reading_lazy_pages_sees_the_file_and_memory_ends_identical_to_it()
    {
        using var kvm = KvmAccelerator.Open();
        GuestReadsLazyPages(kvm);
    }

    [Fact]
    public async Task A_garbage_collection_while_the_vcpu_waits_on_a_lazy_page_does_not_deadlock()
    {
        // The fault reader forces a blocking collection before it resolves each fault, while the vCPU thread waits in
        // the kernel on that fault. Had the vCPU touched the page from managed code (the MMU's slow path faulting the
        // host page in, a hook's store), it would be in cooperative mode: the collection would wait for it, and it
        // for the reader, forever. Touched from native code, it does not hold the collection up.
        using var soft = new SoftAccelerator();
        var run = Task.Factory.StartNew(() => GuestReadsLazyPages(soft, inner => new CollectingSink(inner)), TaskCreationOptions.LongRunning);
        await run.WaitAsync(TimeSpan.FromMinutes(3));
    }

    /// <summary>Forces a full blocking garbage collection on the fault reader thread before passing each fault on.</summary>
    private sealed class CollectingSink(IPageFaultSink inner) : IPageFaultSink
    {
        public void OnPageFault(LazyGuestMemory region, PageFault fault)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            inner.OnPageFault(region, fault);
        }
    }

    internal static void GuestReadsLazyPages(IAccelerator accelerator, Func<IPageFaultSink, IPageFaultSink>? wrap = null)
    {
        const int pages = 256;
        using var image = new TempImage(pages * Page, seed: 77);
        using var file = FileBackingStore.Open(image.Path);
        var resolver = new SynchronousPageResolver(file);
        var sink = new RecordingSink(wrap is null ? resolver : wrap(resolver));
        using var lazy = LazyGuestMemory.Create(pages * Page, sink);
        var guest = LazySummer(pages);
        using var machine = Machine.Create(accelerator, new MachineSpec { Image = guest });
        machine.Vm.SetMemoryRegion(lazy.ToMemslot(1, LazyGpa));

        var result = machine.Run(TimeSpan.FromSeconds(60));
        // The reader marks a page present after UFFDIO_COPY has woken the vCPU: let it finish its last fault.
        Assert.True(lazy.StopFaultReader(TimeSpan.FromSeconds(30)), "the fault reader stopped");

        uint expected = 0;
        for (int i = 0; i < pages * Page; i += 4) expected += BitConverter.ToUInt32(image.Bytes, i);
        Assert.Equal(MachineOutcome.Exited, result.Outcome);
        Assert.Equal($"lazy={expected:x8}\n", result.ConsoleOutput);
        Assert.Equal((int)(expected & 0xff), result.ResultCode);
        Assert.Equal(pages, lazy.PresentPages);
        Assert.Equal(pages, resolver.Installed);
        Assert.Single(sink.Faults.Select(f => f.ThreadId).Distinct()); // all from the one vCPU thread
        var seen = new byte[pages * Page];
        NativeTouch.Read(lazy.Address, seen);
        Assert.Equal(image.Bytes, seen);
    }

    /// <summary>Protected mode: sums every dword of <paramref name="pages"/> pages at <see cref="LazyGpa"/>, prints "lazy=" and the sum, exits with its low byte.</summary>
    private static GuestImage LazySummer(int pages)
    {
        const ulong origin = GuestLayout.ImageBase;
        var bytes = GuestAssembler.Assemble(32, origin, g =>
        {
            var a = g.Asm;
            g.SumDwordsAndPrint((uint)LazyGpa, (uint)(pages * Page / 4), "lazy=");
            a.mov(eax, ebp);
            g.DebugExitWithAl();
        });
        return new GuestImage("lazy-summer", bytes, origin, origin, BootMode.Protected, 1,
            $"protected mode: sums {pages} lazy pages at 0x{LazyGpa:x}");
    }
}
