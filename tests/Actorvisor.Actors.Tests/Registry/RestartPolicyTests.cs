using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Tests.Support;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Guests;
using Akka.Actor;
using Xunit.Abstractions;

namespace Actorvisor.Actors.Tests.Registry;

/// <summary>
/// The registry's restart policies with real guests: a VM that fails (a triple fault) or ends is rebuilt on a new
/// VmActor and started per its policy, its restart count going up and the follower told the new actor; a stop asked
/// for is never undone; a policy of never leaves an ended VM ended.
/// </summary>
public class RestartPolicyTests(ITestOutputHelper output) : VmTestKit(output)
{
    // Short waits so the test sees several restarts quickly; the doubling is checked on the type itself.
    private static readonly RestartBackoff Quick = new(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(80), TimeSpan.FromMinutes(1));

    private (IActorRef Node, Akka.TestKit.TestProbe Follower) FollowedNode(string name)
    {
        var follower = CreateTestProbe();
        return (Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(16, 4UL << 30), follower.Ref, backoff: Quick), name), follower);
    }

    private IActorRef Create(IActorRef node, string name, GuestImage image, VmRestartPolicy policy, int restarts = 0)
    {
        node.Tell(new CreateVm(Spec(name, image), policy, restarts));
        return ExpectMsg<VmCreated>(Long).Vm;
    }

    [Fact]
    public void A_failing_vm_with_on_failure_is_rebuilt_and_started_again_and_its_count_goes_up()
    {
        var (node, follower) = FollowedNode("restarting-node");
        var first = Create(node, "crasher", GuestLibrary.TripleFault(), VmRestartPolicy.OnFailure, restarts: 5);
        first.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        // Three restarts, each on a new VmActor that the follower is told of, counted from the 5 it was created with.
        var actors = new List<IActorRef> { first };
        for (int expected = 6; expected <= 8; expected++)
        {
            var restarted = follower.FishForMessage<VmRestarted>(_ => true, Long);
            Assert.Equal(("crasher", expected), (restarted.Name, restarted.Restarts));
            Assert.DoesNotContain(restarted.Vm, actors);
            actors.Add(restarted.Vm);
        }
        // The registry's line says Failed or on its way back, never gone, with the count.
        node.Tell(new GetVmSummary("crasher"));
        Assert.True(ExpectMsg<VmSummary>().Restarts >= 8);
        // A destroy ends the cycle: the name is freed and no restart follows.
        node.Tell(new DestroyVm("crasher"));
        ExpectMsg<VmDestroyed>(Long);
        node.Tell(ListVms.Instance);
        Assert.Empty(ExpectMsg<VmList>().Vms);
        // Past several backoff periods (80 ms at most each), the follower heard of no further restart.
        var later = follower.ReceiveWhile<object>(TimeSpan.FromMilliseconds(500), m => m);
        Assert.DoesNotContain(later, m => m is VmRestarted);
    }

    [Fact]
    public void On_failure_leaves_a_clean_end_alone_and_always_restarts_it()
    {
        var (node, follower) = FollowedNode("clean-end-node");
        var once = Create(node, "once", GuestLibrary.Hello(), VmRestartPolicy.OnFailure);
        var again = Create(node, "again", GuestLibrary.Hello(), VmRestartPolicy.Always);
        once.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        again.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        var restarted = follower.FishForMessage<VmRestarted>(_ => true, Long);
        Assert.Equal("again", restarted.Name);
        // "once" ended with an exit, not a failure: it stays Stopped, with no restart.
        AwaitAssert(() =>
        {
            node.Tell(new GetVmSummary("once"));
            var line = ExpectMsg<VmSummary>();
            Assert.Equal((VmState.Stopped, 0), (line.State, line.Restarts));
        }, Long);
    }

    [Fact]
    public void A_stop_asked_for_is_not_undone_and_never_does_not_restart()
    {
        var (node, _) = FollowedNode("stopped-node");
        var stopped = Create(node, "stopped", TestGuests.Spin(), VmRestartPolicy.Always);
        var crashed = Create(node, "crashed-never", GuestLibrary.TripleFault(), VmRestartPolicy.Never);
        stopped.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        crashed.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        stopped.Tell(StopVm.Instance);
        ExpectMsg<VmStopped>(Long);
        AwaitAssert(() =>
        {
            node.Tell(new GetVmSummary("crashed-never"));
            Assert.Equal(VmState.Failed, ExpectMsg<VmSummary>().State);
        }, Long);
        // Both stay ended past many backoff periods (80 ms at most each).
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        node.Tell(ListVms.Instance);
        var lines = ExpectMsg<VmList>().Vms.ToDictionary(l => l.Name);
        Assert.Equal((VmState.Stopped, 0), (lines["stopped"].State, lines["stopped"].Restarts));
        Assert.Equal((VmState.Failed, 0), (lines["crashed-never"].State, lines["crashed-never"].Restarts));
    }

    [Fact]
    public void A_stop_asked_for_while_a_restart_waits_cancels_it()
    {
        var follower = CreateTestProbe();
        // A backoff long enough to send the hold while the restart waits (the hold is sent right after the failure is seen).
        var slow = new RestartBackoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
        var node = Sys.ActorOf(VmRegistryActor.Props(new NodeCapacity(16, 4UL << 30), follower.Ref, backoff: slow), "held-node");
        var crasher = Create(node, "held", GuestLibrary.TripleFault(), VmRestartPolicy.Always);
        crasher.Tell(StartVm.Instance);
        ExpectMsg<VmTransitioned>(Long);
        follower.FishForMessage<VmRegistryEntryChanged>(c => c.Vm.State == VmState.Failed, Long);
        node.Tell(new HoldRestarts("held"));
        // Past the 2 s backoff (and a margin), no restart came.
        var later = follower.ReceiveWhile<object>(TimeSpan.FromSeconds(3), m => m);
        Assert.DoesNotContain(later, m => m is VmRestarted);
        node.Tell(new GetVmSummary("held"));
        var line = ExpectMsg<VmSummary>();
        Assert.Equal((VmState.Failed, 0), (line.State, line.Restarts));
    }

    [Fact]
    public void The_backoff_doubles_up_to_its_maximum()
    {
        var backoff = new RestartBackoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(1));
        Assert.Equal([500, 1000, 2000, 3000, 3000], Enumerable.Range(0, 5).Select(n => backoff.Delay(n).TotalMilliseconds).ToArray());
        Assert.Equal(TimeSpan.FromSeconds(3), backoff.Delay(int.MaxValue));
    }

    [Theory]
    [InlineData(null, VmRestartPolicy.Never)]
    [InlineData("never", VmRestartPolicy.Never)]
    [InlineData("on-failure", VmRestartPolicy.OnFailure)]
    [InlineData("always", VmRestartPolicy.Always)]
    public void Policy_names_parse_and_print(string? name, VmRestartPolicy policy)
    {
        Assert.True(VmRestartPolicies.TryParse(name, out var parsed));
        Assert.Equal(policy, parsed);
        Assert.Equal(name ?? "never", parsed.Name());
        Assert.False(VmRestartPolicies.TryParse("sometimes", out _));
    }
}
