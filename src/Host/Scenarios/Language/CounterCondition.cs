namespace Actorvisor.Host.Scenarios.Language;

/// <summary>A condition on one counter: <c>faults: ">= 1"</c>, <c>failed: 0</c>.</summary>
/// <param name="Counter">The counter's name (<see cref="Steps.ExpectAsyncPfStep.CounterNames"/>).</param>
/// <param name="Comparison">"==", "&gt;=", "&lt;=", "&gt;" or "&lt;".</param>
/// <param name="Value">The value compared with.</param>
public sealed record CounterCondition(string Counter, string Comparison, long Value)
{
    /// <summary>True if <paramref name="actual"/> meets the condition.</summary>
    public bool Holds(long actual) => Comparison switch
    {
        ">=" => actual >= Value,
        "<=" => actual <= Value,
        ">" => actual > Value,
        "<" => actual < Value,
        _ => actual == Value,
    };

    /// <inheritdoc />
    public override string ToString() => Comparison == "==" ? $"{Counter} = {Value}" : $"{Counter} {Comparison} {Value}";
}
