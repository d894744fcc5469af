using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Hardware.Tests.Lazy;

public class InstallGateTests
{
    [Fact]
    public async Task Close_waits_for_the_installs_inside_and_refuses_new_ones()
    {
        using var gate = new InstallGate();
        Assert.True(gate.TryEnter());
        Assert.True(gate.TryEnter());
        Assert.Equal(2, gate.Inside);
        var closing = NativeTouch.OnThread("closer", gate.Close);
        await WaitUntil(() => gate.IsClosed);
        Assert.False(gate.TryEnter());
        gate.Exit();
        Assert.False(closing.IsCompleted); // one install is still inside
        gate.Exit();
        await closing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, gate.Inside);
        gate.Close(); // idempotent
    }

    [Fact]
    public void Closing_an_empty_gate_returns_at_once()
    {
        using var gate = new InstallGate();
        gate.Close();
        Assert.True(gate.IsClosed);
        Assert.False(gate.TryEnter());
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached");
            await Task.Yield();
        }
    }
}
