using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;
using Actorvisor.Hardware.Native;
using Xunit.Abstractions;

namespace Actorvisor.Hardware.Tests.Mmu;

/// <summary>
/// Real threads: two vCPUs run a "guest" that writes pseudo-random pages through their software TLBs while
/// a harvester runs migration-style rounds (GetDirtyLog, copy the dirty pages into a shadow buffer). After
/// the vCPUs are paused and a last round is run, the shadow must equal guest memory: zero lost pages.
/// </summary>
public class MigrationStressTests(ITestOutputHelper output)
{
    private const ulong Pages = 64;
    private const int Rounds = 1000;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private sealed record Result(long Writes, long PagesCopied, int LostPages, MmuCounters Counters, TimeSpan Elapsed);

    private Result RunMigration(bool manualProtect, bool ageAndZap, int rounds)
    {
        using var vm = MmuTestVm.Create(Pages, MemslotFlags.LogDirtyPages, manualProtect);
        var shadow = new byte[Pages * PageSize.Bytes];
        using var stop = new ManualResetEventSlim();
        long writes = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var vcpus = Enumerable.Range(0, 2).Select(id => new Thread(() =>
        {
            using var tlb = new SoftTlb(vm.Mmu, id);
            var random = new Random(id + 1);
            ulong counter = 0;
            while (!stop.IsSet)
            {
                tlb.EnterGuest();
                while (!tlb.IsKicked && !stop.IsSet)
                {
                    ulong page = (ulong)random.Next((int)Pages);
                    ulong offset = (ulong)random.Next(512) * 8;
                    if (!tlb.TryWrite(MmuTestVm.Gpa(page, offset), ((ulong)id << 56) | ++counter, out var failure))
                        failures.Enqueue($"vcpu {id}: write to page {page} failed: {failure}");
                    Interlocked.Increment(ref writes);
                }
                tlb.ExitGuest();
            }
        }) { Name = $"vcpu-{id}" }).ToArray();

        Thread? ager = null;
        if (ageAndZap)
        {
            ager = new Thread(() =>
            {
                var random = new Random(99);
                while (!stop.IsSet)
                {
                    var range = new GfnRange(MmuTestVm.Gfn((ulong)random.Next((int)Pages - 8)), 8);
                    if (random.Next(2) == 0) vm.Mmu.AgePages(range);
                    else vm.Mmu.Zap(range);
                }
            }) { Name = "ager" };
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var t in vcpus) t.Start();
        ager?.Start();
        long copied = 0;
        void Round()
        {
            var dirty = vm.Mmu.GetDirtyLog(0);
            // Manual protection: clear (re-protect) first, then copy (KVM_CLEAR_DIRTY_LOG's contract).
            if (manualProtect) vm.Mmu.ClearDirtyLog(0, 0, dirty);
            foreach (var page in dirty.SetPages())
            {
                vm.Memory.Span(page * PageSize.Bytes, (int)PageSize.Bytes).CopyTo(shadow.AsSpan((int)(page * PageSize.Bytes), (int)PageSize.Bytes));
                copied++;
            }
        }
        // Round 0 is the full copy a migration starts with (logging starts with an empty log).
        vm.Memory.Span(0, shadow.Length).CopyTo(shadow);
        for (int round = 0; round < rounds; round++)
        {
            // Let the guest run between rounds (on 2 cores the harvester could otherwise finish first).
            long before = Interlocked.Read(ref writes);
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref writes) >= before + 64, Generous), "the guest made no progress");
            Round();
        }
        stop.Set();                                   // pause the vCPUs
        foreach (var t in vcpus) Assert.True(t.Join(Generous));
        Assert.True(ager?.Join(Generous) ?? true);
        Round();                                      // the last round, with the guest paused
        clock.Stop();

        Assert.Empty(failures);
        var memory = vm.Memory.Span(0, shadow.Length);
        int lost = 0;
        for (ulong p = 0; p < Pages; p++)
            if (!memory.Slice((int)(p * PageSize.Bytes), (int)PageSize.Bytes).SequenceEqual(shadow.AsSpan((int)(p * PageSize.Bytes), (int)PageSize.Bytes))) lost++;
        var result = new Result(Interlocked.Read(ref writes), copied, lost, vm.Mmu.Counters, clock.Elapsed);
        output.WriteLine(result.ToString());
        return result;
    }

    [Fact]
    public void Get_dirty_log_rounds_lose_no_page()
    {
        var r = RunMigration(manualProtect: false, ageAndZap: false, Rounds);
        Assert.Equal(0, r.LostPages);
        Assert.True(r.Writes > Rounds * 64, $"only {r.Writes} guest writes");
        Assert.Equal(Rounds + 1, r.Counters.DirtyLogHarvests);
        Assert.True(r.Counters.FastPathFixes > 0);
        Assert.True(r.PagesCopied > 0);
    }

    [Fact]
    public void Manual_protect_rounds_lose_no_page()
    {
        var r = RunMigration(manualProtect: true, ageAndZap: false, rounds: 300);
        Assert.Equal(0, r.LostPages);
        Assert.True(r.Counters.FastPathFixes > 0);
    }

    [Fact]
    public void Rounds_with_concurrent_aging_and_zaps_lose_no_page()
    {
        var r = RunMigration(manualProtect: false, ageAndZap: true, rounds: 300);
        Assert.Equal(0, r.LostPages);
        Assert.True(r.Counters.AgedPages > 0);
        Assert.True(r.Counters.ZappedSptes > 0);
    }
}
