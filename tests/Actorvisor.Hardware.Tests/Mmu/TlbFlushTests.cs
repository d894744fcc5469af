using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class TlbFlushTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public void With_no_vcpus_a_flush_returns_at_once_and_is_counted()
    {
        using var vm = MmuTestVm.Create(1);
        vm.Mmu.Tlb.FlushAll();
        Assert.Equal(1, vm.Mmu.Counters.TlbFlushes);
    }

    [Fact]
    public void A_vcpu_outside_guest_mode_counts_as_acknowledged_and_flushes_at_its_next_entry()
    {
        using var vm = MmuTestVm.Create(1);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        tlb.EnterGuest();
        Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 1UL, out _));
        tlb.ExitGuest();
        Assert.True(tlb.HasTranslation(MmuTestVm.Gfn(0), writable: true));

        vm.Mmu.Tlb.FlushAll();                       // returns although the vCPU never ran
        Assert.True(tlb.Participant.IsFlushPending);
        Assert.False(tlb.IsKicked);                  // nobody kicks a vCPU that is not in guest mode
        tlb.EnterGuest();                            // ...and it flushes before running guest code
        Assert.False(tlb.Participant.IsFlushPending);
        Assert.False(tlb.HasTranslation(MmuTestVm.Gfn(0)));
        tlb.ExitGuest();
    }

    [Fact]
    public void A_vcpu_in_guest_mode_is_kicked_and_the_requester_waits_for_it_to_leave()
    {
        using var vm = MmuTestVm.Create(1);
        using var tlb = new SoftTlb(vm.Mmu, 3);
        using var inGuest = new ManualResetEventSlim();
        using var sawKick = new ManualResetEventSlim();
        using var mayExit = new ManualResetEventSlim();
        var vcpu = new Thread(() =>
        {
            tlb.EnterGuest();
            tlb.TryWrite(MmuTestVm.Gpa(0), 7UL, out _);
            inGuest.Set();
            SpinWait.SpinUntil(() => tlb.IsKicked, Generous);
            sawKick.Set();
            mayExit.Wait(Generous);
            tlb.ExitGuest();
        });
        vcpu.Start();
        Assert.True(inGuest.Wait(Generous));
        var flush = Task.Run(() => vm.Mmu.Tlb.FlushAll());
        Assert.True(sawKick.Wait(Generous));
        // The vCPU is still in guest mode with its writable translation: the flush cannot have returned.
        Assert.False(flush.IsCompleted);
        Assert.True(tlb.HasTranslation(MmuTestVm.Gfn(0), writable: true));
        mayExit.Set();
        Assert.True(flush.Wait(Generous));
        vcpu.Join();
    }

    [Fact]
    public void A_vcpu_applying_the_flush_in_guest_mode_also_acknowledges()
    {
        using var vm = MmuTestVm.Create(1);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        using var inGuest = new ManualResetEventSlim();
        var vcpu = new Thread(() =>
        {
            tlb.EnterGuest();
            tlb.TryWrite(MmuTestVm.Gpa(0), 7UL, out _);
            inGuest.Set();
            SpinWait.SpinUntil(() => tlb.IsKicked, Generous);
            Assert.True(tlb.Participant.ApplyPendingFlush());
            Assert.False(tlb.HasTranslation(MmuTestVm.Gfn(0)));
            // ...and it keeps running guest code with a fresh translation.
            Assert.True(tlb.TryWrite(MmuTestVm.Gpa(0), 8UL, out _));
            tlb.ExitGuest();
        });
        vcpu.Start();
        Assert.True(inGuest.Wait(Generous));
        vm.Mmu.Tlb.FlushAll();
        vcpu.Join();
        Assert.Equal(8UL, vm.Memory.Read<ulong>(0));
    }

    [Fact]
    public void A_vcpu_that_never_leaves_guest_mode_times_the_flush_out_naming_it()
    {
        using var vm = MmuTestVm.Create(1, flushTimeout: TimeSpan.FromMilliseconds(200));
        using var tlb = new SoftTlb(vm.Mmu, 5);
        using var inGuest = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var vcpu = new Thread(() => { tlb.EnterGuest(); inGuest.Set(); done.Wait(Generous); tlb.ExitGuest(); });
        vcpu.Start();
        Assert.True(inGuest.Wait(Generous));
        var e = Assert.Throws<TlbFlushTimeoutException>(() => vm.Mmu.Tlb.FlushAll());
        Assert.Equal([5], e.VcpuIds);
        done.Set();
        vcpu.Join();
    }

    [Fact]
    public void An_unregistered_vcpu_is_not_waited_for()
    {
        using var vm = MmuTestVm.Create(1, flushTimeout: TimeSpan.FromMilliseconds(500));
        var tlb = new SoftTlb(vm.Mmu, 0);
        using var inGuest = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var vcpu = new Thread(() => { tlb.EnterGuest(); inGuest.Set(); done.Wait(Generous); });
        vcpu.Start();
        Assert.True(inGuest.Wait(Generous));
        tlb.Dispose();
        vm.Mmu.Tlb.FlushAll();
        Assert.Empty(vm.Mmu.Tlb.Participants);
        done.Set();
        vcpu.Join();
    }

    [Fact]
    public void A_flush_under_the_write_side_does_not_deadlock_with_a_vcpu_faulting_into_the_slow_path()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        using var tlb = new SoftTlb(vm.Mmu, 0);
        using var stop = new ManualResetEventSlim();
        long writes = 0;
        var vcpu = new Thread(() =>
        {
            ulong v = 0;
            while (!stop.IsSet)
            {
                tlb.EnterGuest();
                // Alternate pages; zaps below keep sending the vCPU to the slow path (mmu_lock read side).
                while (!tlb.IsKicked && !stop.IsSet)
                {
                    Assert.True(tlb.TryWrite(MmuTestVm.Gpa(v++ % 2), v, out _));
                    Interlocked.Increment(ref writes);
                }
                tlb.ExitGuest();
            }
        });
        vcpu.Start();
        for (int i = 0; i < 200; i++)
        {
            long before = Interlocked.Read(ref writes);
            vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 2));           // write side + flush
            vm.Mmu.GetDirtyLog(0);                                     // write side + flush
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref writes) > before + 1, Generous), "the vCPU made no progress");
        }
        stop.Set();
        vcpu.Join();
        Assert.True(Interlocked.Read(ref writes) > 0);
        Assert.True(vm.Mmu.Counters.SlowPathFaults > 1);
    }

    [Fact]
    public void Writable_to_read_only_and_zaps_request_a_flush_and_changes_that_only_add_rights_do_not()
    {
        using var vm = MmuTestVm.Create(2, MemslotFlags.LogDirtyPages);
        var range = new GfnRange(MmuTestVm.Gfn(0), 2);
        long Flushes() => vm.Mmu.Counters.TlbFlushes;
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Read);
        long f0 = Flushes();
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);                     // RO -> W: no flush
        Assert.Equal(f0, Flushes());
        vm.Mmu.WriteProtect(range, WriteProtectReason.DirtyLog);              // W -> RO: flush
        Assert.Equal(f0 + 1, Flushes());
        vm.Mmu.WriteProtect(range, WriteProtectReason.DirtyLog);              // already RO and clean: none
        Assert.Equal(f0 + 1, Flushes());
        vm.Mmu.Zap(range);                                                    // zap of a present SPTE: flush
        Assert.Equal(f0 + 2, Flushes());
        vm.Mmu.Zap(range);                                                    // nothing left to zap: none
        Assert.Equal(f0 + 2, Flushes());
    }

    [Fact]
    public void Slow_path_operations_exclude_each_other_through_mmu_lock()
    {
        using var vm = MmuTestVm.Create(1);
        vm.Mmu.Fault(MmuTestVm.Gpa(0), MmuAccess.Write);
        var scope = vm.Mmu.Lock.EnterRead();          // e.g. a slow-path fault in progress
        Task zap;
        try
        {
            zap = Task.Run(() => vm.Mmu.Zap(new GfnRange(MmuTestVm.Gfn(0), 1)));
            Assert.False(zap.Wait(50));
            Assert.True(vm.Spte(0).IsPresent);
        }
        finally { scope.Dispose(); }
        Assert.True(zap.Wait(Generous));
        Assert.True(vm.Spte(0).IsEmpty);
    }
}
