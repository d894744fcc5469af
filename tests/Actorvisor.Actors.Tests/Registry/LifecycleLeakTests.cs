using System.Diagnostics;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Registry;

/// <summary>Create/start/destroy cycles leave no thread, descriptor or mapping behind.</summary>
public class LifecycleLeakTests(ITestOutputHelper output) : VmTestKit(output)
{
    private const int Cycles = 1000;
    private const string Prefix = "leak";

    // The test measures what the code owns: vCPU threads (by name), the threads that are not the runtime's
    // (the runtime names all of its own ".NET ..."; the thread pool grows under load, e.g. 30 -> 50 threads with a
    // compile beside the test, and that is not a leak), descriptors and mappings. Each runtime thread the pool
    // adds brings its own mappings (stack, guard page, signal stack), so the mapping bound grows by
    // MappingsPerRuntimeThread for each. A leak of one descriptor, thread or mapping per VM adds 1000, which
    // exceeds these slacks many times over.
    private const int FdSlack = 10, OwnThreadSlack = 4, MappingSlack = 100, MappingsPerRuntimeThread = 4;

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
        Assert.True(after.Fds <= before.Fds + FdSlack, $"descriptors {before.Fds} -> {after.Fds}");
        Assert.True(after.OwnThreads <= before.OwnThreads + OwnThreadSlack, $"threads not the runtime's {before.OwnThreads} -> {after.OwnThreads}");
        Assert.True(after.Mappings <= MappingBound(before, after), $"mappings {before.Mappings} -> {after.Mappings}, bound {MappingBound(before, after)}");
    }

    private static int MappingBound(Resources before, Resources now) =>
        before.Mappings + MappingSlack + MappingsPerRuntimeThread * Math.Max(0, now.RuntimeThreads - before.RuntimeThreads);

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

    // Thread and mapping counts can trail the last destroy by a moment (a vCPU thread returning); wait until they
    // are back within bounds, then report. The wait ends as soon as they are; 60 s is only how long a leak takes
    // to be reported (settling takes well under a second here).
    private Resources AwaitSettled(Resources before)
    {
        Resources now = Resources.Sample(Prefix);
        try
        {
            AwaitCondition(() =>
            {
                now = Resources.Sample(Prefix);
                return now.VcpuThreads == 0 && now.Fds <= before.Fds + FdSlack && now.OwnThreads <= before.OwnThreads + OwnThreadSlack
                    && now.Mappings <= MappingBound(before, now);
            }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        }
        catch (Exception)
        {
            // Not settled: the assertions below report what is left.
        }
        return now;
    }

    private sealed record Resources(int Fds, int RuntimeThreads, int OwnThreads, int VcpuThreads, int Mappings)
    {
        public static Resources Sample(string vcpuThreadPrefix)
        {
            var names = Directory.GetDirectories("/proc/self/task").Select(t =>
            {
                try { return File.ReadAllText(Path.Combine(t, "comm")).TrimEnd('\n'); }
                catch (IOException) { return null; } // the thread ended while we looked
            }).OfType<string>().ToList();
            int runtime = names.Count(n => n.StartsWith(".NET ", StringComparison.Ordinal));
            int vcpus = names.Count(n => n.StartsWith(vcpuThreadPrefix, StringComparison.Ordinal));
            return new Resources(Directory.GetFiles("/proc/self/fd").Length, runtime, names.Count - runtime, vcpus, File.ReadAllLines("/proc/self/maps").Length);
        }
    }
}
