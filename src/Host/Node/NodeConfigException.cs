namespace Actorvisor.Host.Node;

/// <summary>The node's configuration is unusable; <see cref="Setting"/> names the setting (e.g. "Node:Port").</summary>
public sealed class NodeConfigException(string setting, string problem) : Exception($"{setting}: {problem}")
{
    /// <summary>The setting at fault, as written in the JSON file ("Section:Key") or a flag ("--config").</summary>
    public string Setting { get; } = setting;
}
