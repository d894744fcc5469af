using Actorvisor.Host.Bench;

namespace Actorvisor.Host.Tests.Bench;

/// <summary>The schedstat reader the async-PF guest bench uses to tell a vCPU thread's run-queue wait from its own time.</summary>
public sealed class ThreadSchedStatTests
{
    [Fact]
    public void A_schedstat_line_gives_its_cpu_and_run_queue_times_in_seconds()
    {
        var times = ThreadSchedStat.Parse("1500000000 250000000 42\n");
        Assert.NotNull(times);
        Assert.Equal(1.5, times.Value.OnCpu, precision: 9);
        Assert.Equal(0.25, times.Value.Queued, precision: 9);
    }

    [Theory]
    [InlineData("")]
    [InlineData("123")]
    [InlineData("abc 5 1")]
    [InlineData("-5 5 1")]
    [InlineData("5 1.5 1")]
    public void A_line_that_is_not_a_schedstat_line_gives_nothing(string line) => Assert.Null(ThreadSchedStat.Parse(line));

    [Fact]
    public void The_current_thread_has_spent_time_on_a_cpu_and_it_grows_while_it_computes()
    {
        var stat = new ThreadSchedStat(Actorvisor.Hardware.Native.Sys.CurrentThreadId());
        var before = stat.Read();
        // A kernel without CONFIG_SCHED_INFO keeps no schedstat file; Debian's has one.
        Assert.NotNull(before);
        ulong x = 1;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 50) x = x * 6364136223846793005UL + 1442695040888963407UL;
        var after = stat.Read();
        Assert.NotNull(after);
        Assert.True(after.Value.OnCpu > before.Value.OnCpu, $"on-CPU time {before.Value.OnCpu} -> {after.Value.OnCpu} (x {x})");
        Assert.True(after.Value.Queued >= before.Value.Queued);
    }

    [Fact]
    public void A_thread_that_does_not_exist_reads_as_nothing() => Assert.Null(new ThreadSchedStat(int.MaxValue).Read());
}
