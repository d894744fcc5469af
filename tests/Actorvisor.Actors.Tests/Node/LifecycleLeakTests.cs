using System.Diagnostics;
using Actorvisor.Actors.Node;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Node;

/// <summary>Create/start/destroy cycles leave no thread, descriptor or mapping behind.</summary>
public class LifecycleLeakTests(ITestOutputHelper output) : VmTestKit(output)
{
    private const int Cycles = 1000;
    private const string Prefix = "leak";

    // Slack for what the runtime itself grows (thread-pool threads with their stacks, GC heap segments). A leak
    // of one descriptor, thread or mapping per VM would exceed it a hundredfold or more.
    private const int FdSlack = 10, ThreadSlack = 16, MappingSlack = 100;

    [Fact]
    public void A_thousand_create_start_destroy_cycles_leak_no_threads_fds_or_mappings()
    {
        var node = StartNode();
        var guest = GuestLibrary.ExitWith(0);
        for (int i = 0; i < 20; i++) Cycle(node, guest, i); // warm-up: JIT, thread pool, lazy singletons
        var before = Resources.Sample(Prefix);

        var clock = Stopwatch.StartNew();
        for (int i = 20; i < 20 + Cycles; i++) Cycle(node, guest, i);
        clock.Stop();
        var after = AwaitSettled(before);

        output.WriteLine($"{Cycles} cycles in {clock.Elapsed.TotalSeconds:0.00} s: {Cycles / clock.Elapsed.TotalSeconds:0} VMs/s; before {before}, after {after}");
        Assert.Equal(0, after.VcpuThreads);
        Assert.InRange(after.Fds, 0, before.Fds + FdSlack);
        Assert.InRange(after.Threads, 0, before.Threads + ThreadSlack);
        Assert.InRange(after.Mappings, 0, before.Mappings + MappingSlack);
    }

    private void Cycle(IActorRef node, GuestImage guest, int i)
    {
        var name = $"{Prefix}{i}";
        node.Tell(new CreateVm(Spec(name, guest)));
        var vm = ExpectMsg<VmCreated>(Long).Vm;
        vm.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        node.Tell(new DestroyVm(name));
        ExpectMsg<VmDestroyed>(Long);
    }

    // Thread and mapping counts can trail the last destroy by a moment (a vCPU thread returning, the
    // runtime's own threads); wait until they are back within bounds, then report.
    private Resources AwaitSettled(Resources before)
    {
        Resources now = Resources.Sample(Prefix);
        try
        {
            AwaitCondition(() =>
            {
                now = Resources.Sample(Prefix);
                return now.VcpuThreads == 0 && now.Fds <= before.Fds + FdSlack && now.Threads <= before.Threads + ThreadSlack && now.Mappings <= before.Mappings + MappingSlack;
            }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        }
        catch (Exception)
        {
            // Not settled: the assertions below report what is left.
        }
        return now;
    }

    private sealed record Resources(int Fds, int Threads, int VcpuThreads, int Mappings)
    {
        public static Resources Sample(string vcpuThreadPrefix)
        {
            var tasks = Directory.GetDirectories("/proc/self/task");
            int vcpus = tasks.Count(t =>
            {
                try { return File.ReadAllText(Path.Combine(t, "comm")).StartsWith(vcpuThreadPrefix, StringComparison.Ordinal); }
                catch (IOException) { return false; } // the thread ended while we looked
            });
            return new Resources(Directory.GetFiles("/proc/self/fd").Length, tasks.Length, vcpus, File.ReadAllLines("/proc/self/maps").Length);
        }
    }
}
