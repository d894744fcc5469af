using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Nodes;

namespace Actorvisor.Host.Tests.Scenarios;

/// <summary>What the runner sees of a VM: waits end on the event that satisfies them; destroyed is final.</summary>
public class VmObservationTests
{
    [Fact]
    public async Task A_wait_completes_on_the_change_that_satisfies_it_and_is_cancelled_by_its_token()
    {
        var observation = new VmObservation { VmName = "a" };
        var wait = observation.WaitForAsync(o => o.Serial.Contains("ready") ? "seen" : null, CancellationToken.None);
        observation.OnSerial("not yet ");
        Assert.False(wait.IsCompleted);
        observation.OnSerial("ready\n");
        Assert.Equal("seen", await wait.WaitAsync(TimeSpan.FromSeconds(10)));

        using var cancel = new CancellationTokenSource();
        var never = observation.WaitForAsync(o => o.End, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => never);
    }

    [Fact]
    public void Destroyed_stays_destroyed_when_the_vms_last_events_arrive_after_the_destroy()
    {
        var observation = new VmObservation { VmName = "a" };
        observation.OnState(VmStateName.Running);
        observation.OnState(VmStateName.Destroyed);
        observation.OnState(VmStateName.Stopped);
        observation.OnEnded(new VmEnd(OutcomeKind.Stopped));
        Assert.Equal(VmStateName.Destroyed, observation.State);
        Assert.Equal(new VmEnd(OutcomeKind.Stopped), observation.End);
    }

    [Fact]
    public void The_end_sets_the_final_state_and_the_tail_keeps_the_latest_output()
    {
        var observation = new VmObservation { VmName = "a" };
        observation.OnSerial(new string('x', 3000) + "last line\n");
        observation.OnEnded(new VmEnd(OutcomeKind.Failed, Reason: "boom"));
        Assert.Equal(VmStateName.Failed, observation.State);
        var tail = observation.SerialTail(20);
        Assert.Equal("...xxxxxxxxxxlast line\n", tail);
    }
}
