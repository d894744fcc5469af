using Actorvisor.Actors.Memslots;

namespace Actorvisor.Actors.Tests.Memslots;

public class GracePeriodTests
{
    [Fact]
    public void A_grace_period_with_no_readers_is_complete_at_once()
    {
        var gp = new GracePeriod();
        Assert.True(gp.Begin().IsComplete);
    }

    [Fact]
    public void An_active_reader_holds_the_grace_period_until_it_passes_a_quiescent_point()
    {
        var gp = new GracePeriod();
        var reader = gp.RegisterReader(() => { });
        var snapshot = gp.Begin();
        Assert.False(snapshot.IsComplete);
        reader.PassQuiescentPoint();
        Assert.True(snapshot.IsComplete);
    }

    [Fact]
    public void An_idle_reader_does_not_hold_the_grace_period()
    {
        var gp = new GracePeriod();
        var reader = gp.RegisterReader(() => { });
        reader.EnterIdle();
        Assert.True(gp.Begin().IsComplete);
        reader.ExitIdle();
        Assert.False(gp.Begin().IsComplete);
    }

    [Fact]
    public void A_quiescent_point_passed_before_the_snapshot_does_not_count()
    {
        var gp = new GracePeriod();
        var reader = gp.RegisterReader(() => { });
        reader.PassQuiescentPoint();
        var snapshot = gp.Begin();
        Assert.False(snapshot.IsComplete);
    }

    [Fact]
    public void Awaiting_kicks_only_readers_that_have_not_passed_and_they_call_back_once()
    {
        var gp = new GracePeriod();
        int kicksA = 0, kicksB = 0, callbacks = 0;
        var a = gp.RegisterReader(() => kicksA++);
        var b = gp.RegisterReader(() => kicksB++);
        gp.OnReaderQuiesced(() => callbacks++);
        var snapshot = gp.Begin();
        b.PassQuiescentPoint(); // before the request: no callback
        Assert.Equal(0, callbacks);

        gp.Await(snapshot);
        Assert.Equal((1, 0), (kicksA, kicksB));
        a.PassQuiescentPoint();
        a.PassQuiescentPoint(); // once per request
        Assert.Equal(1, callbacks);
        Assert.True(snapshot.IsComplete);

        gp.StopAwaiting();
        a.PassQuiescentPoint();
        Assert.Equal(1, callbacks);
    }

    [Fact]
    public void A_reader_thread_in_its_read_side_delays_the_grace_period_until_it_leaves()
    {
        var gp = new GracePeriod();
        using var inReadSide = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        using var quiesced = new ManualResetEventSlim();
        var reader = gp.RegisterReader(() => { });
        gp.OnReaderQuiesced(quiesced.Set);
        var thread = new Thread(() =>
        {
            inReadSide.Set();
            leave.Wait();
            reader.PassQuiescentPoint();
            reader.Retire();
        });
        thread.Start();
        Assert.True(inReadSide.Wait(TimeSpan.FromSeconds(10)));
        var snapshot = gp.Begin();
        gp.Await(snapshot);
        Assert.False(snapshot.IsComplete);
        leave.Set();
        Assert.True(quiesced.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(snapshot.IsComplete);
        thread.Join();
        Assert.True(gp.Begin().IsComplete); // retired readers are idle for good
    }
}
