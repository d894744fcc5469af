using Actorvisor.Host.Api.V1;
using Microsoft.AspNetCore.Http;

namespace Actorvisor.Host.Web;

/// <summary>Owns the mapping of the API's error codes (<see cref="ApiErrorCode"/>) to HTTP status codes.</summary>
public static class HttpApiStatus
{
    /// <summary>The HTTP status an <see cref="ApiErrorReply"/> with <paramref name="code"/> is answered with.</summary>
    public static int Of(ApiErrorCode code) => code switch
    {
        ApiErrorCode.InvalidRequest => StatusCodes.Status400BadRequest,
        ApiErrorCode.Unauthorized => StatusCodes.Status401Unauthorized,
        ApiErrorCode.NotFound => StatusCodes.Status404NotFound,
        ApiErrorCode.AlreadyExists or ApiErrorCode.InvalidState or ApiErrorCode.NoCapacity => StatusCodes.Status409Conflict,
        ApiErrorCode.NodeUnavailable => StatusCodes.Status503ServiceUnavailable,
        ApiErrorCode.Timeout => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };
}
