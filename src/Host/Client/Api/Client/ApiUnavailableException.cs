namespace Actorvisor.Host.Api.Client;

/// <summary>No node answered a request in time (none running at the contact points, wrong cluster name, TLS refused).</summary>
/// <param name="message">What was asked of whom, and what to check.</param>
public sealed class ApiUnavailableException(string message) : Exception(message);
