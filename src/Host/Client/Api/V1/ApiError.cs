namespace Actorvisor.Host.Api.V1;

/// <summary>Why a request failed.</summary>
public enum ApiErrorCode
{
    /// <summary>A field is missing, out of range or malformed (<see cref="ApiErrorReply.Field"/> names it).</summary>
    InvalidRequest,
    /// <summary>The API token is missing or wrong.</summary>
    Unauthorized,
    /// <summary>No such VM (or node).</summary>
    NotFound,
    /// <summary>A VM of that name already exists in the cluster.</summary>
    AlreadyExists,
    /// <summary>No hypervisor has room for the VM.</summary>
    NoCapacity,
    /// <summary>The VM is not in a state that allows the operation (e.g. pausing a created VM).</summary>
    InvalidState,
    /// <summary>The VM's node is gone or not answering.</summary>
    NodeUnavailable,
    /// <summary>The node could not do it (e.g. the image failed to load); the message says why.</summary>
    OperationFailed,
    /// <summary>
    /// The request's deadline passed inside the cluster: the message names the layer that gave up (the API
    /// gateway of a node, the VM directory, or a VM's node) and what it was waiting for.
    /// </summary>
    Timeout,
}

/// <summary>A request failed: <paramref name="Code"/>, a message a person can act on, and the field at fault if one is.</summary>
/// <param name="Code">Why it failed.</param>
/// <param name="Message">What happened, in words a person can act on.</param>
/// <param name="Field">The request field at fault (e.g. "spec.memoryBytes"), if one is.</param>
public sealed record ApiErrorReply(ApiErrorCode Code, string Message, string? Field = null) : IApiReply
{
    /// <summary>An <see cref="ApiErrorCode.InvalidRequest"/> naming <paramref name="field"/>.</summary>
    /// <param name="field">The field at fault.</param>
    /// <param name="problem">What is wrong with it.</param>
    public static ApiErrorReply Invalid(string field, string problem) => new(ApiErrorCode.InvalidRequest, $"{field}: {problem}", field);

    /// <inheritdoc />
    public override string ToString() => Field is null ? $"{Code}: {Message}" : $"{Code} ({Field}): {Message}";
}
