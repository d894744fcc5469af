using System.Text;
using System.Text.RegularExpressions;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Hardware.Tests.Devices;

public sealed class ConsoleSinkTests
{
    private static void Write(IConsoleSink sink, string text) => sink.Write(Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Waiting_for_text_completes_when_it_is_printed_later()
    {
        var sink = new CapturingConsoleSink();
        Write(sink, "booting...\n");
        var wait = sink.WaitForTextAsync("ready", TimeSpan.FromSeconds(30));
        Assert.False(wait.IsCompleted);
        var writer = new Thread(() => { Write(sink, "almost rea"); Write(sink, "dy\n"); });
        writer.Start();
        await wait;
        writer.Join();
        Assert.Equal("booting...\nalmost ready\n", sink.Text);
    }

    [Fact]
    public async Task Text_already_printed_completes_at_once()
    {
        var sink = new CapturingConsoleSink();
        Write(sink, "done\n");
        await sink.WaitForTextAsync("done", TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Regex_wait_returns_the_match()
    {
        var sink = new CapturingConsoleSink();
        var wait = sink.WaitForRegexAsync(new Regex(@"checksum=([0-9a-f]{8})"), TimeSpan.FromSeconds(30));
        Write(sink, "checksum=0badf00d\n");
        var m = await wait;
        Assert.Equal("0badf00d", m.Groups[1].Value);
    }

    [Fact]
    public async Task A_timeout_reports_the_output_so_far()
    {
        var sink = new CapturingConsoleSink();
        Write(sink, "partial output");
        var e = await Assert.ThrowsAsync<TimeoutException>(() => sink.WaitForTextAsync("never", TimeSpan.FromMilliseconds(50)));
        Assert.Contains("never", e.Message);
        Assert.Contains("partial output", e.Message);
    }

    [Fact]
    public async Task Cancellation_ends_the_wait()
    {
        var sink = new CapturingConsoleSink();
        using var cts = new CancellationTokenSource();
        var wait = sink.WaitForTextAsync("x", TimeSpan.FromSeconds(30), cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }

    [Fact]
    public void Utf8_split_across_writes_is_decoded()
    {
        var sink = new CapturingConsoleSink();
        var bytes = Encoding.UTF8.GetBytes("héllo €");
        foreach (var b in bytes) sink.Write(new[] { b });
        Assert.Equal("héllo €", sink.Text);
        Assert.Equal(bytes.Length, sink.BytesWritten);
    }

    [Fact]
    public void Capture_keeps_the_newest_output_within_its_limit()
    {
        var sink = new CapturingConsoleSink(maxChars: 100);
        for (int i = 0; i < 50; i++) Write(sink, $"line {i:00}\n"); // 8 characters each
        Assert.True(sink.Text.Length <= 100);
        Assert.EndsWith("line 49\n", sink.Text);
        Assert.Equal(400, sink.Text.Length + sink.DroppedChars);
        Assert.Equal(400, sink.BytesWritten);
    }

    [Fact]
    public void Stream_sink_forwards_bytes_unchanged()
    {
        var stream = new MemoryStream();
        var sink = new StreamConsoleSink(stream);
        Write(sink, "line 1\nline 2");
        Assert.Equal("line 1\nline 2", Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public void Text_writer_sink_and_fan_out_deliver_to_every_sink()
    {
        var writer = new StringWriter();
        var capture = new CapturingConsoleSink();
        var fan = new FanOutConsoleSink(capture, new TextWriterConsoleSink(writer));
        Write(fan, "to both\n");
        Assert.Equal("to both\n", capture.Text);
        Assert.Equal("to both\n", writer.ToString());
        Assert.Throws<ArgumentNullException>(() => new FanOutConsoleSink(capture, null!));
    }
}
