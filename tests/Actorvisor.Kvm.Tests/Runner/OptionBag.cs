using Xunit.Abstractions;

namespace Actorvisor.Kvm.Tests.Runner;

/// <summary>xunit's discovery and execution options ("xunit.execution.DisableParallelization", ...) as a plain dictionary.</summary>
internal sealed class OptionBag : ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
{
    private readonly Dictionary<string, object?> _values = [];

    public TValue GetValue<TValue>(string name) => _values.TryGetValue(name, out var v) && v is TValue t ? t : default!;

    public void SetValue<TValue>(string name, TValue value) => _values[name] = value;
}
