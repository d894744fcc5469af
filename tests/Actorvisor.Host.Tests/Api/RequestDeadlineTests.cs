using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Api;

public class RequestDeadlineTests
{
    [Theory]
    [InlineData(30_000, 27_000)]
    [InlineData(2_000, 1_800)]
    [InlineData(500, 400)]
    [InlineData(150, 75)]
    public void Each_layer_waits_less_than_the_one_above_it(int outerMs, int innerMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(innerMs), RequestDeadline.Inner(TimeSpan.FromMilliseconds(outerMs)));

    [Fact]
    public void Three_layers_below_a_client_still_leave_each_a_margin()
    {
        // client -> gateway -> directory -> node: every inner wait ends a margin before the outer one.
        var client = TimeSpan.FromSeconds(5);
        var gateway = RequestDeadline.Inner(client);
        var directory = RequestDeadline.Inner(gateway);
        var node = RequestDeadline.Inner(directory);
        Assert.True(client - gateway >= RequestDeadline.MinimumMargin);
        Assert.True(gateway - directory >= RequestDeadline.MinimumMargin);
        Assert.True(directory - node >= RequestDeadline.MinimumMargin);
        Assert.True(node > TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void A_request_carries_its_deadline_and_keeps_its_other_fields()
    {
        var request = RequestDeadline.With(new StartVmRequest("web-1") { Token = "t" }, TimeSpan.FromMilliseconds(1234.2));
        Assert.Equal(("web-1", "t", 1235), (request.Name, request.Token, request.DeadlineMs));
        Assert.Equal(TimeSpan.FromMilliseconds(1235), RequestDeadline.Of(request));
        Assert.Equal(RequestDeadline.Default, RequestDeadline.Of(new StartVmRequest("web-1")));
        Assert.Equal((int)RequestDeadline.Longest.TotalMilliseconds, RequestDeadline.With(new StartVmRequest("a"), TimeSpan.FromHours(1)).DeadlineMs);
        Assert.Contains("Token = ***, DeadlineMs = 1235", request.ToString());
    }
}
