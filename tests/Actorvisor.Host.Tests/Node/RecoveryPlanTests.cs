using Actorvisor.Actors.Registry;
using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Node.State;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// What a starting node does with each stored VM: a VM with snapshot-on-stop and a managed save is restored from it and
/// continues per its intent whatever its policy; any other is a cold boot per policy and intent (docs/architecture.md).
/// </summary>
public sealed class RecoveryPlanTests
{
    private static StoredVm Vm(string? restart, VmIntent intent, bool snapshotOnStop = false, string? save = null) =>
        new(new ApiVmSpec("vm", 1, 16UL << 20, "hello", Restart: restart, SnapshotOnStop: snapshotOnStop ? true : null), intent, 0, save);

    [Theory]
    [InlineData(null, VmIntent.Running, false, false)]
    [InlineData("on-failure", VmIntent.Running, true, false)]
    [InlineData("on-failure", VmIntent.Paused, true, true)]
    [InlineData("on-failure", VmIntent.Stopped, false, false)]
    [InlineData("always", VmIntent.Stopped, true, false)]
    public void Without_a_managed_save_it_is_a_cold_boot_per_policy_and_intent(string? restart, VmIntent intent, bool start, bool pause)
    {
        var plan = RecoveryPlan.For(Vm(restart, intent, snapshotOnStop: true));
        Assert.Equal((start, pause, (string?)null), (plan.Start, plan.Pause, plan.RestoreFrom));
    }

    [Theory]
    [InlineData(VmIntent.Running, true, false)]
    [InlineData(VmIntent.Paused, true, true)]
    [InlineData(VmIntent.Stopped, false, false)]
    public void With_a_managed_save_it_is_restored_from_it_and_continues_per_intent_whatever_its_policy(VmIntent intent, bool start, bool pause)
    {
        var plan = RecoveryPlan.For(Vm(null, intent, snapshotOnStop: true, save: "managed-save.vm.1"));
        Assert.Equal((VmRestartPolicy.Never, start, pause, "managed-save.vm.1"), (plan.Policy, plan.Start, plan.Pause, plan.RestoreFrom));
        Assert.StartsWith("restored from managed save managed-save.vm.1", plan.Describe());
    }

    [Fact]
    public void A_managed_save_of_a_vm_without_snapshot_on_stop_is_not_used()
    {
        var plan = RecoveryPlan.For(Vm("always", VmIntent.Running, snapshotOnStop: false, save: "managed-save.vm.1"));
        Assert.Null(plan.RestoreFrom);
    }
}
