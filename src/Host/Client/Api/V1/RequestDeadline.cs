namespace Actorvisor.Host.Api.V1;

/// <summary>
/// Owns how a request's deadline (<see cref="ApiRequest.DeadlineMs"/>) shrinks on its way down the layers:
/// client, then the API gateway of the node it reaches, then the VM directory or the VM's node, then the VM.
/// Each layer waits <see cref="Inner"/> of what the layer above waits and passes that on, so an inner ask always
/// times out before the outer one and the caller gets the typed error of the layer that failed.
/// </summary>
public static class RequestDeadline
{
    /// <summary>The deadline of a request that carries none.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    /// <summary>The longest deadline a request may carry.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromMinutes(10);

    /// <summary>The least a layer keeps back for its own answer to travel up.</summary>
    public static readonly TimeSpan MinimumMargin = TimeSpan.FromMilliseconds(100);

    /// <summary>The deadline <paramref name="request"/> carries.</summary>
    /// <param name="request">The request.</param>
    public static TimeSpan Of(ApiRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.DeadlineMs is { } ms ? TimeSpan.FromMilliseconds(ms) : Default;
    }

    /// <summary>
    /// How long a layer whose caller waits <paramref name="outer"/> waits for the layer below: a tenth less, and
    /// at least <see cref="MinimumMargin"/> less (half of a deadline too short for that margin).
    /// </summary>
    /// <param name="outer">What the caller waits.</param>
    public static TimeSpan Inner(TimeSpan outer)
    {
        var margin = TimeSpan.FromTicks(Math.Max(outer.Ticks / 10, MinimumMargin.Ticks));
        return margin * 2 <= outer ? outer - margin : outer / 2;
    }

    /// <summary><paramref name="request"/> with the deadline <paramref name="deadline"/>.</summary>
    /// <typeparam name="T">The request's type.</typeparam>
    /// <param name="request">The request.</param>
    /// <param name="deadline">Its new deadline (clamped to 1 ms..<see cref="Longest"/>).</param>
    public static T With<T>(T request, TimeSpan deadline) where T : ApiRequest
    {
        ArgumentNullException.ThrowIfNull(request);
        return (T)((ApiRequest)request with { DeadlineMs = (int)Math.Clamp(Math.Ceiling(deadline.TotalMilliseconds), 1, Longest.TotalMilliseconds) });
    }

    /// <summary>"2.7 s": a wait as the timeout errors print it.</summary>
    /// <param name="wait">The wait.</param>
    public static string Print(TimeSpan wait) => $"{wait.TotalSeconds.ToString("0.0##", System.Globalization.CultureInfo.InvariantCulture)} s";
}
