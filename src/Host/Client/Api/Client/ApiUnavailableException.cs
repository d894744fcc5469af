namespace Actorvisor.Host.Api.Client;

/// <summary>No node answered a request in time (none running at the contact points, wrong cluster name, TLS refused).</summary>
public sealed class ApiUnavailableException(string message) : Exception(message);
