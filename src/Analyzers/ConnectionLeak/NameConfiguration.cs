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
        _configuredAcquisitions = Entries(acquire)
            .Select(entry =>
            {
                var dot = entry.LastIndexOf('.');
                return dot < 0 ? ((string?)null, entry) : (entry.Substring(0, dot), entry.Substring(dot + 1));
            })
            .Where(entry => entry.Item2.Length > 0)
            .ToImmutableArray();
        AcquireNames = AcquisitionRules.BuiltInAcquireNames.Union(_configuredAcquisitions.Select(entry => entry.Method)).Union(attributedNames);
        ReleaseNames = AcquisitionRules.BuiltInReleaseNames.Union(Entries(release).Select(entry => entry.Substring(entry.LastIndexOf('.') + 1)));
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
            if (containing is not null && (containing.Name == type || WithoutCallSyntax(containing.ToDisplayString()) == type))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A configured name as the analysis compares it: without type arguments and a call's parentheses, which a name
    /// copied from code may carry (<c>LegacyPool&lt;TTenant&gt;.Rent()</c> is <c>LegacyPool.Rent</c>).
    /// </summary>
    public static string WithoutCallSyntax(string entry)
    {
        var name = new System.Text.StringBuilder(entry.Length);
        var depth = 0;
        foreach (var c in entry)
        {
            if (c is '<' or '(')
            {
                depth++;
            }
            else if (c is '>' or ')')
            {
                depth = Math.Max(0, depth - 1);
            }
            else if (depth == 0)
            {
                name.Append(c);
            }
        }

        return name.ToString();
    }

    /// <summary>
    /// The names of a configured list, separated by commas, semicolons or blanks outside type arguments and parentheses
    /// (<c>Pool&lt;A, B&gt;.Rent, Legacy.Open()</c> is two names), each without its call syntax: that goes first, with
    /// the separators inside it.
    /// </summary>
    public static IEnumerable<string> Entries(string? value) =>
        WithoutCallSyntax(value ?? string.Empty).Split(new[] { ',', ';', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
}
