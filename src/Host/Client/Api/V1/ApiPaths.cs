namespace Actorvisor.Host.Api.V1;

/// <summary>Where the API is served.</summary>
public static class ApiPaths
{
    /// <summary>The API actor on every node, registered with the ClusterClientReceptionist.</summary>
    public const string Gateway = "/user/api";

    /// <summary>The name of the API actor under /user.</summary>
    public const string GatewayName = "api";
}
