using System.Text;

namespace Actorvisor.Host.Api.V1;

/// <summary>Every message of the remote API, version 1 (requests, replies and stream messages); bound to <see cref="ApiSerializer"/>.</summary>
public interface IApiMessage;

/// <summary>A reply to an <see cref="ApiRequest"/>: a success record or <see cref="ApiErrorReply"/>.</summary>
public interface IApiReply : IApiMessage;

/// <summary>
/// A request to the API actor of any node (<see cref="ApiPaths.Gateway"/>). Every request is validated
/// (<see cref="ApiValidator"/>) and answered with exactly one <see cref="IApiReply"/>.
/// </summary>
public abstract record ApiRequest : IApiMessage
{
    /// <summary>The cluster's shared API token; required when the nodes are configured with one.</summary>
    public string? Token { get; init; }

    /// <summary>
    /// The request's deadline: how many milliseconds after sending it the caller stops waiting (null: the
    /// default of <see cref="RequestDeadline.Default"/>). Every layer it passes waits a little less than the
    /// layer above it (<see cref="RequestDeadline.Inner"/>), so the layer that fails answers first, with its own typed error.
    /// </summary>
    public int? DeadlineMs { get; init; }

    /// <summary>Prints the members with the token redacted, so that logs never hold it.</summary>
    protected virtual bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Token = ").Append(Token is null ? "null" : "***");
        if (DeadlineMs is { } ms) builder.Append(", DeadlineMs = ").Append(ms);
        return true;
    }
}
