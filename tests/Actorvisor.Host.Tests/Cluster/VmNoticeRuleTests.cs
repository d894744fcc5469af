using Actorvisor.Host.Api.V1;
using Actorvisor.Host.Cluster;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>When a change of a VM's line makes a notice, and what it says.</summary>
public class VmNoticeRuleTests
{
    private static VmInfo Line(VmStatus status, string? outcome = null) => new("vm", "n1", status, 1, 16UL << 20, "hello", outcome);

    [Fact]
    public void A_failure_is_noticed_once_when_its_outcome_arrives_not_before()
    {
        Assert.Null(VmNoticeRule.NoticeDetail(VmStatus.Running, Line(VmStatus.Failed)));
        Assert.Equal("failed: triple fault: #UD", VmNoticeRule.NoticeDetail(VmStatus.Failed, Line(VmStatus.Failed, "failed: triple fault: #UD")));
        Assert.Equal("stopped on request", VmNoticeRule.NoticeDetail(VmStatus.Stopping, Line(VmStatus.Stopped, "stopped on request")));
        Assert.Null(VmNoticeRule.NoticeDetail(VmStatus.Stopping, Line(VmStatus.Stopped)));
    }

    [Fact]
    public void Other_changes_name_the_transition_and_an_unchanged_live_status_makes_none()
    {
        Assert.Equal("Running -> Paused", VmNoticeRule.NoticeDetail(VmStatus.Running, Line(VmStatus.Paused)));
        Assert.Equal("now Running", VmNoticeRule.NoticeDetail(null, Line(VmStatus.Running)));
        Assert.Null(VmNoticeRule.NoticeDetail(VmStatus.Running, Line(VmStatus.Running)));
    }
}
