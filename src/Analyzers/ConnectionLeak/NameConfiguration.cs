// The method names in effect for one syntax tree: the built-in acquisition and release names, the methods that carry
// the acquisition attribute, and what '.editorconfig' adds (tenantdbguard.acquire_methods / release_methods).
using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace TenantDbGuard.Analyzers.ConnectionLeak;

/// <summary>The acquisition and release method names in effect for a syntax tree.</summary>
internal sealed class NameConfiguration
{
    private readonly ImmutableArray<(string? Type, string Method)> _configuredAcquisitions;

    public NameConfiguration(string acquire, string release, ImmutableHashSet<string> attributedNames)
    {
        _configuredAcquisitions = ParseList(acquire)
            .Select(entry =>
            {
                var dot = entry.LastIndexOf('.');
                return dot < 0 ? ((string?)null, entry) : (entry.Substring(0, dot), entry.Substring(dot + 1));
            })
            .Where(entry => entry.Item2.Length > 0)
            .ToImmutableArray();
        AcquireNames = AcquisitionRules.BuiltInAcquireNames.Union(_configuredAcquisitions.Select(entry => entry.Method)).Union(attributedNames);
        ReleaseNames = AcquisitionRules.BuiltInReleaseNames.Union(ParseList(release).Select(entry => entry.Substring(entry.LastIndexOf('.') + 1)));
    }

    /// <summary>Every method name that may acquire: the syntax pre-filter looks for these.</summary>
    public ImmutableHashSet<string> AcquireNames { get; }

    public ImmutableHashSet<string> ReleaseNames { get; }

    public bool IsConfiguredAcquisition(IMethodSymbol method)
    {
        foreach (var (type, name) in _configuredAcquisitions)
        {
            if (name != method.Name)
            {
                continue;
            }

            if (type is null)
            {
                return true;
            }

            var containing = method.ContainingType;
            if (containing is not null && (containing.Name == type || containing.ToDisplayString() == type))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<string> ParseList(string value) =>
        value.Split(new[] { ',', ';', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).Select(entry => entry.Trim());
}
