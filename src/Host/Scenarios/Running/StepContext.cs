using Actorvisor.Host.Scenarios.Language;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>One step being run: its path in the report (e.g. "3.2"), the step, its timeout and the token that timeout cancels.</summary>
/// <param name="Path">The step's position, e.g. "4" or "2#3.1" (iteration 3 of repeat step 2).</param>
/// <param name="Step">The step.</param>
/// <param name="Timeout">Its limit, or null for none.</param>
/// <param name="CancellationToken">Cancelled at the timeout, or when the run or an enclosing step is cancelled.</param>
internal sealed record StepContext(string Path, Step Step, TimeSpan? Timeout, CancellationToken CancellationToken);
