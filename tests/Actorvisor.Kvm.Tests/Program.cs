using Actorvisor.Kvm.Tests.Runner;

// Runs this assembly's xunit tests in-process and prints one KVMTEST line per result (see Runner/ResultLine).
return InProcessRunner.Run(typeof(InProcessRunner).Assembly, args, Console.Out);
