using System.Collections.Concurrent;
using System.Diagnostics;
using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

public class PfaultWaitTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public void Not_present_first_blocks_and_page_ready_wakes()
    {
        var w = new PfaultWait();
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(1));
        Assert.Equal(PfaultWait.Waiting, w.State);
        Assert.Equal(PageReadyOutcome.WokeWaiter, w.PageReady(1));
        Assert.Equal(PfaultWait.Idle, w.State);
    }

    [Fact]
    public void Page_ready_first_is_remembered_and_not_present_does_not_block()
    {
        var w = new PfaultWait();
        Assert.Equal(PageReadyOutcome.CompletedEarly, w.PageReady(1));
        Assert.Equal(PfaultWait.CompletedEarly, w.State);
        Assert.Equal(NotPresentOutcome.AlreadyCompleted, w.NotPresent(1));
        Assert.Equal(PfaultWait.Idle, w.State);
        // The early completion was consumed: the next fault blocks again.
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(2));
    }

    [Fact]
    public async Task Both_orders_on_real_threads()
    {
        // Order 1: the vCPU thread records "not present" and blocks; the completion arrives afterwards.
        var w = new PfaultWait();
        using var wake = new SemaphoreSlim(0);
        using var recorded = new ManualResetEventSlim();
        NotPresentOutcome first = default;
        var vcpu = NativeTouch.OnThread("vcpu", () =>
        {
            first = w.NotPresent(1);
            recorded.Set();
            if (first == NotPresentOutcome.Block) Assert.True(wake.Wait(Generous));
        });
        var completer = NativeTouch.OnThread("completer", () =>
        {
            Assert.True(recorded.Wait(Generous));
            if (w.PageReady(1) == PageReadyOutcome.WokeWaiter) wake.Release();
        });
        await Task.WhenAll(vcpu, completer).WaitAsync(Generous);
        Assert.Equal(NotPresentOutcome.Block, first);
        Assert.Equal(0, wake.CurrentCount);

        // Order 2: the completion arrives before the vCPU thread records "not present".
        var w2 = new PfaultWait();
        using var completed = new ManualResetEventSlim();
        PageReadyOutcome ready = default;
        NotPresentOutcome second = default;
        completer = NativeTouch.OnThread("completer", () => { ready = w2.PageReady(1); completed.Set(); });
        vcpu = NativeTouch.OnThread("vcpu", () => { Assert.True(completed.Wait(Generous)); second = w2.NotPresent(1); });
        await Task.WhenAll(vcpu, completer).WaitAsync(Generous);
        Assert.Equal(PageReadyOutcome.CompletedEarly, ready);
        Assert.Equal(NotPresentOutcome.AlreadyCompleted, second);
        Assert.Equal(PfaultWait.Idle, w2.State);
    }

    [Fact]
    public void Leftover_completion_of_a_cancelled_waiting_fault_is_ignored_and_does_not_skip_the_next_wait()
    {
        var w = new PfaultWait();
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(1));
        Assert.Equal(CancelOutcome.ReleaseWaiter, w.Cancel(1));
        Assert.Equal(PageReadyOutcome.Ignored, w.PageReady(1));
        Assert.Equal(PfaultWait.Idle, w.State); // not -1: the leftover must not release the next fault
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(2));
    }

    [Fact]
    public void Cancel_before_the_completion_makes_the_completion_a_leftover()
    {
        var w = new PfaultWait();
        Assert.Equal(CancelOutcome.Cancelled, w.Cancel(1));
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(2));
        Assert.Equal(PageReadyOutcome.Ignored, w.PageReady(1)); // arrives while fault 2 waits: ignored
        Assert.Equal(PfaultWait.Waiting, w.State);
        Assert.Equal(PageReadyOutcome.WokeWaiter, w.PageReady(2));
    }

    [Fact]
    public void Cancel_after_an_early_completion_discards_it()
    {
        var w = new PfaultWait();
        Assert.Equal(PageReadyOutcome.CompletedEarly, w.PageReady(1));
        Assert.Equal(CancelOutcome.DiscardedEarlyCompletion, w.Cancel(1));
        Assert.Equal(NotPresentOutcome.Block, w.NotPresent(2));
    }

    [Fact]
    public void A_fault_is_never_completed_twice()
    {
        var w = new PfaultWait();
        w.NotPresent(1);
        Assert.Equal(PageReadyOutcome.WokeWaiter, w.PageReady(1));
        Assert.Equal(PageReadyOutcome.Ignored, w.PageReady(1));
        Assert.Equal(CancelOutcome.NothingToCancel, w.Cancel(1));
        Assert.Equal(PageReadyOutcome.CompletedEarly, w.PageReady(2));
        Assert.Equal(PageReadyOutcome.Ignored, w.PageReady(2));
        Assert.Equal(NotPresentOutcome.AlreadyCompleted, w.NotPresent(2));
        Assert.Equal(CancelOutcome.NothingToCancel, w.Cancel(1)); // superseded
    }

    [Fact]
    public void Misuse_is_refused_with_a_message()
    {
        var w = new PfaultWait();
        Assert.Equal("token", Assert.Throws<ArgumentOutOfRangeException>(() => w.NotPresent(0)).ParamName);
        w.NotPresent(5);
        Assert.Contains("already waits on fault 5", Assert.Throws<InvalidOperationException>(() => w.NotPresent(6)).Message);
        Assert.Contains("older fault 5", Assert.Throws<InvalidOperationException>(() => w.PageReady(6)).Message);
        w.PageReady(5);
        Assert.Contains("tokens must increase", Assert.Throws<ArgumentOutOfRangeException>(() => w.NotPresent(4)).Message);
    }

    private enum VcpuRecord : byte { None, AlreadyCompleted, WokenByCompletion, ReleasedByCancel, CancelledBeforeCompletion, CancelledAfterEarlyCompletion }

    /// <summary>
    /// 100,000 faults over 2 vCPU threads and 2 completer threads with random delays on both sides: some are
    /// cancelled before "not present", some while waiting (a cancel racing the completion). Every fault must end
    /// exactly once on the vCPU side, every wake must match one wait, and each completion's outcome must be the
    /// one its fault's history implies.
    /// </summary>
    [Fact]
    public async Task Randomized_stress_loses_no_fault_and_completes_none_twice()
    {
        const int vcpus = 2, faultsPerVcpu = 50_000;
        var waits = Enumerable.Range(0, vcpus).Select(_ => new PfaultWait()).ToArray();
        var wakes = Enumerable.Range(0, vcpus).Select(_ => new SemaphoreSlim(0)).ToArray();
        var records = Enumerable.Range(0, vcpus).Select(_ => new VcpuRecord[faultsPerVcpu + 1]).ToArray();
        var completions = Enumerable.Range(0, vcpus).Select(_ => new int[faultsPerVcpu + 1]).ToArray();
        var readyOutcomes = Enumerable.Range(0, vcpus).Select(_ => new PageReadyOutcome[faultsPerVcpu + 1]).ToArray();
        using var work = new BlockingCollection<(int Vcpu, long Token, bool IsCancel)>();

        var completers = Enumerable.Range(0, 2).Select(c => NativeTouch.OnThread($"completer{c}", () =>
        {
            var rnd = new Random(100 + c);
            foreach (var (v, token, isCancel) in work.GetConsumingEnumerable())
            {
                Delay(rnd);
                if (isCancel)
                {
                    if (waits[v].Cancel(token) == CancelOutcome.ReleaseWaiter)
                    {
                        records[v][token] = VcpuRecord.ReleasedByCancel;
                        wakes[v].Release();
                    }
                    continue;
                }
                Interlocked.Increment(ref completions[v][token]);
                var outcome = waits[v].PageReady(token);
                readyOutcomes[v][token] = outcome;
                if (outcome == PageReadyOutcome.WokeWaiter)
                {
                    records[v][token] = VcpuRecord.WokenByCompletion;
                    wakes[v].Release();
                }
            }
        })).ToArray();

        var vcpuThreads = Enumerable.Range(0, vcpus).Select(v => NativeTouch.OnThread($"vcpu{v}", () =>
        {
            var rnd = new Random(v);
            var w = waits[v];
            for (long token = 1; token <= faultsPerVcpu; token++)
            {
                work.Add((v, token, false)); // the worker that will complete this fault
                Delay(rnd);
                if (rnd.Next(20) == 0)
                {
                    var c = w.Cancel(token);
                    records[v][token] = c switch
                    {
                        CancelOutcome.Cancelled => VcpuRecord.CancelledBeforeCompletion,
                        CancelOutcome.DiscardedEarlyCompletion => VcpuRecord.CancelledAfterEarlyCompletion,
                        _ => throw new InvalidOperationException($"fault {token}: cancel before not-present answered {c}"),
                    };
                    continue;
                }
                if (w.NotPresent(token) == NotPresentOutcome.AlreadyCompleted)
                {
                    records[v][token] = VcpuRecord.AlreadyCompleted;
                    continue;
                }
                if (rnd.Next(50) == 0) work.Add((v, token, true)); // a cancel racing the completion
                if (!wakes[v].Wait(Generous)) throw new TimeoutException($"vcpu {v}: fault {token} was never woken ({w})");
            }
        })).ToArray();

        // Hang detectors, not timings (about 2 s on an idle 2-core machine, ~50 s seen under heavy load).
        await Task.WhenAll(vcpuThreads).WaitAsync(TimeSpan.FromMinutes(5));
        work.CompleteAdding();
        await Task.WhenAll(completers).WaitAsync(TimeSpan.FromMinutes(5));

        for (int v = 0; v < vcpus; v++)
        {
            Assert.Equal(0, wakes[v].CurrentCount); // no wake without a waiter
            for (int t = 1; t <= faultsPerVcpu; t++)
            {
                Assert.Equal(1, completions[v][t]);
                var expected = records[v][t] switch
                {
                    VcpuRecord.AlreadyCompleted or VcpuRecord.CancelledAfterEarlyCompletion => PageReadyOutcome.CompletedEarly,
                    VcpuRecord.WokenByCompletion => PageReadyOutcome.WokeWaiter,
                    VcpuRecord.ReleasedByCancel or VcpuRecord.CancelledBeforeCompletion => PageReadyOutcome.Ignored,
                    var r => throw new Xunit.Sdk.XunitException($"vcpu {v} fault {t} ended with no record ({r})"),
                };
                Assert.Equal(expected, readyOutcomes[v][t]);
            }
        }
        var all = records.SelectMany(r => r.Skip(1)).GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        // Every path was exercised, so the assertions above covered the race in both orders.
        foreach (var kind in new[] { VcpuRecord.AlreadyCompleted, VcpuRecord.WokenByCompletion, VcpuRecord.ReleasedByCancel, VcpuRecord.CancelledBeforeCompletion, VcpuRecord.CancelledAfterEarlyCompletion })
            Assert.True(all.GetValueOrDefault(kind) > 0, $"no fault took the {kind} path: {string.Join(", ", all)}");
    }

    private static void Delay(Random rnd)
    {
        int r = rnd.Next(100);
        if (r < 10) Thread.Yield();
        else if (r < 60) Thread.SpinWait(rnd.Next(1, 200));
    }
}
