using System.Text;
using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Tests.Vm;

public class ConsoleRelayTests
{
    [Fact]
    public void Writes_coalesce_into_one_wake_until_drained()
    {
        int wakes = 0;
        var relay = new ConsoleRelay(() => wakes++);
        relay.Write("ab"u8);
        relay.Write("cd"u8);
        Assert.Equal(1, wakes);
        Assert.Equal("abcd", Encoding.ASCII.GetString(relay.Drain()));
        Assert.Empty(relay.Drain());
        relay.Write("e"u8);
        Assert.Equal(2, wakes);
        Assert.Equal("e", Encoding.ASCII.GetString(relay.Drain()));
    }

    [Fact]
    public void Concurrent_writers_lose_no_bytes()
    {
        var relay = new ConsoleRelay(() => { });
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int i = 0; i < 10_000; i++) relay.Write([(byte)('a' + t)]);
        })).ToList();
        threads.ForEach(t => t.Start());
        var all = new List<byte>();
        while (threads.Any(t => t.IsAlive)) all.AddRange(relay.Drain());
        threads.ForEach(t => t.Join());
        all.AddRange(relay.Drain());
        Assert.Equal(40_000, all.Count);
        for (int t = 0; t < 4; t++) Assert.Equal(10_000, all.Count(b => b == 'a' + t));
    }
}
