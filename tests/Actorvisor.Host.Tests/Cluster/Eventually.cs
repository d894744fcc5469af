namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// Await a condition that has no event of its own (AwaitAssert style): checks it, and between checks waits a
/// little, up to a deadline; fails with the last observation.
/// </summary>
public static class Eventually
{
    /// <summary>Completes once <paramref name="condition"/> returns null; its last non-null answer says what was wrong.</summary>
    public static async Task HoldsAsync(Func<Task<string?>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? problem;
        while ((problem = await condition()) is not null)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout.TotalSeconds} s: {problem}");
            await Task.Delay(100);
        }
    }
}
