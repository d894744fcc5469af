using System.Reflection;
using Xunit.Abstractions;

namespace Actorvisor.Kvm.Tests.Runner;

/// <summary>A test assembly and which of its discovered test cases to run.</summary>
public sealed record TestSuite(Assembly Assembly, Func<ITestCase, bool> Select);
