using System;
using System.Linq;

namespace CodebaseGenerator;

/// <summary>Code without data access: mapping, validation, LINQ, string building, switch expressions.</summary>
internal static class OrdinaryCode
{
    /// <summary>Helper methods for the repository class; a few of them are picked for each file.</summary>
    public static readonly string[] RepositoryHelpers =
    {
        """
        public static (string Sql, DynamicParameters Parameters) BuildWhereClause(@Filter@ filter, string tenantId)
        {
            var sql = new StringBuilder("WHERE tenant_id = @TenantId");
            var parameters = new DynamicParameters();
            parameters.Add("TenantId", tenantId);
            if (!string.IsNullOrWhiteSpace(filter.NameStartsWith))
            {
                sql.Append(" AND name LIKE @Name");
                parameters.Add("Name", filter.NameStartsWith.Trim() + "%");
            }

            if (filter.Status is { } status)
            {
                sql.Append(" AND status = @Status");
                parameters.Add("Status", (int)status);
            }

            if (filter.MinAmount is { } minAmount)
            {
                sql.Append(" AND amount >= @MinAmount");
                parameters.Add("MinAmount", minAmount);
            }

            if (filter.CreatedAfter is { } createdAfter)
            {
                sql.Append(" AND created_at > @CreatedAfter");
                parameters.Add("CreatedAfter", createdAfter);
            }

            var offset = Math.Max(0, filter.Page - 1) * filter.PageSize;
            sql.Append(CultureInfo.InvariantCulture, $" ORDER BY created_at DESC LIMIT {filter.PageSize} OFFSET {offset}");
            return (sql.ToString(), parameters);
        }
        """,
        """
        public static IReadOnlyDictionary<@Status@, (int Count, decimal Total)> SummarizeByStatus(IEnumerable<@Dto@> items) =>
            items.GroupBy(x => x.Status)
                .ToDictionary(g => g.Key, g => (g.Count(), g.Sum(x => x.Amount)));
        """,
        """
        public static IReadOnlyList<string> TopByAmount(IEnumerable<@Dto@> items, int count) =>
            items.Where(x => x.Status != @Status@.Archived)
                .OrderByDescending(x => x.Amount)
                .ThenBy(x => x.Name, StringComparer.OrdinalIgnoreCase)
                .Take(count)
                .Select(x => $"{x.Name} ({x.Amount.ToString("N2", CultureInfo.InvariantCulture)})")
                .ToList();
        """,
        """
        public static IReadOnlyList<T> Page<T>(IReadOnlyList<T> items, int page, int pageSize)
        {
            if (pageSize <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "Page size must be positive.");
            }

            var skip = Math.Max(0, page - 1) * pageSize;
            return skip >= items.Count ? Array.Empty<T>() : items.Skip(skip).Take(pageSize).ToArray();
        }
        """,
        """
        public static decimal ComputeFee(@Dto@ dto) =>
            (dto.Status, dto.Amount) switch
            {
                (@Status@.Draft, _) => 0m,
                (@Status@.Archived, _) => 0m,
                (_, < 100m) => 1.5m,
                (_, < 1_000m) => Math.Round(dto.Amount * 0.012m, 2),
                (_, < 10_000m) => Math.Round(dto.Amount * 0.009m, 2),
                _ => Math.Round(dto.Amount * 0.006m, 2),
            };
        """,
        """
        public static string FormatReport(IReadOnlyCollection<@Dto@> items, DateTime generatedAt)
        {
            var builder = new StringBuilder();
            builder.AppendLine(CultureInfo.InvariantCulture, $"@Plural@ report, {items.Count} rows, generated {generatedAt:yyyy-MM-dd HH:mm}");
            builder.AppendLine(new string('-', 60));
            foreach (var item in items.OrderBy(x => x.CreatedAt))
            {
                builder.Append(item.Id.ToString(CultureInfo.InvariantCulture).PadLeft(8))
                    .Append("  ")
                    .Append(item.Name.Length > 30 ? item.Name[..27] + "..." : item.Name.PadRight(30))
                    .Append("  ")
                    .AppendLine(item.Amount.ToString("N2", CultureInfo.InvariantCulture));
            }

            builder.AppendLine(CultureInfo.InvariantCulture, $"Total: {items.Sum(x => x.Amount):N2}");
            return builder.ToString();
        }
        """,
        """
        public static (string Column, bool Descending) ParseSort(string? sort) =>
            sort?.Trim().ToLowerInvariant() switch
            {
                null or "" => ("created_at", true),
                "name" => ("name", false),
                "-name" => ("name", true),
                "amount" => ("amount", false),
                "-amount" => ("amount", true),
                "created" => ("created_at", false),
                _ => throw new ArgumentException($"Unknown sort key '{sort}'.", nameof(sort)),
            };
        """,
        """
        public static bool IsStale(@Dto@ dto, DateTime now, TimeSpan maxAge)
        {
            var lastChange = dto.UpdatedAt ?? dto.CreatedAt;
            return dto.Status is not (@Status@.Closed or @Status@.Archived) && now - lastChange > maxAge;
        }
        """,
        """
        public static SortedDictionary<string, decimal> TotalsByMonth(IEnumerable<@Dto@> items)
        {
            var totals = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
            foreach (var group in items.GroupBy(x => new DateTime(x.CreatedAt.Year, x.CreatedAt.Month, 1)))
            {
                totals[group.Key.ToString("yyyy-MM", CultureInfo.InvariantCulture)] = group.Sum(x => x.Amount);
            }

            return totals;
        }
        """,
        """
        public static @Dto@ ApplyPatch(@Dto@ current, string? name, decimal? amount, @Status@? status, DateTime now) =>
            current with
            {
                Name = string.IsNullOrWhiteSpace(name) ? current.Name : name.Trim(),
                Amount = amount ?? current.Amount,
                Status = status ?? current.Status,
                UpdatedAt = now,
            };
        """,
        """
        public static IReadOnlyList<string> DescribeChanges(@Dto@ before, @Dto@ after)
        {
            var changes = new List<string>();
            if (!string.Equals(before.Name, after.Name, StringComparison.Ordinal))
            {
                changes.Add($"name: '{before.Name}' -> '{after.Name}'");
            }

            if (before.Amount != after.Amount)
            {
                changes.Add($"amount: {before.Amount} -> {after.Amount}");
            }

            if (before.Status != after.Status)
            {
                changes.Add($"status: {@Mapping@.StatusLabel(before.Status)} -> {@Mapping@.StatusLabel(after.Status)}");
            }

            return changes;
        }
        """,
        """
        public static IReadOnlyList<long[]> ChunkIds(IEnumerable<long> ids, int size) =>
            ids.Where(id => id > 0).Distinct().Order().Chunk(size).ToList();
        """,
        """
        public static ILookup<char, @Dto@> IndexByInitial(IEnumerable<@Dto@> items) =>
            items.Where(x => x.Name.Length > 0).ToLookup(x => char.ToUpperInvariant(x.Name[0]));
        """,
        """
        public string CacheKey(long id, string? variant = null) =>
            variant is null ? $"{_tenantId}:@Table@:{id}" : $"{_tenantId}:@Table@:{id}:{variant}";
        """,
        """
        public static IReadOnlyList<@Dto@> LatestPerName(IEnumerable<@Dto@> items) =>
            items.GroupBy(x => x.Name, StringComparer.OrdinalIgnoreCase)
                .Select(g => g.OrderByDescending(x => x.UpdatedAt ?? x.CreatedAt).First())
                .OrderBy(x => x.Name, StringComparer.OrdinalIgnoreCase)
                .ToList();
        """,
        """
        public static (decimal Min, decimal Max, decimal Average, decimal Median) AmountStatistics(IReadOnlyCollection<@Dto@> items)
        {
            if (items.Count == 0)
            {
                return (0m, 0m, 0m, 0m);
            }

            var sorted = items.Select(x => x.Amount).Order().ToArray();
            var middle = sorted.Length / 2;
            var median = sorted.Length % 2 == 0 ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle];
            return (sorted[0], sorted[^1], Math.Round(sorted.Average(), 2), median);
        }
        """,
        """
        public static @Status@ NextStatus(@Status@ current, string action) =>
            (current, action) switch
            {
                (@Status@.Draft, "submit") => @Status@.Active,
                (@Status@.Active, "suspend") => @Status@.Suspended,
                (@Status@.Suspended, "resume") => @Status@.Active,
                (@Status@.Active or @Status@.Suspended, "close") => @Status@.Closed,
                (@Status@.Closed, "archive") => @Status@.Archived,
                _ => throw new InvalidOperationException($"Cannot {action} a {current} @Lower@."),
            };
        """,
        """
        public static string NormalizeName(string? name)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                return string.Empty;
            }

            var builder = new StringBuilder(name.Length);
            var previousWasSpace = false;
            foreach (var ch in name.Trim())
            {
                if (char.IsWhiteSpace(ch))
                {
                    if (!previousWasSpace)
                    {
                        builder.Append(' ');
                    }

                    previousWasSpace = true;
                }
                else
                {
                    builder.Append(ch);
                    previousWasSpace = false;
                }
            }

            return builder.ToString();
        }
        """,
    };

    /// <summary>Writes a template, replacing the @Token@ placeholders, at the writer's current indentation.</summary>
    public static void Emit(GenerationContext c, string template)
    {
        var e = c.Entity;
        var text = template
            .Replace("@Dto@", e.Dto, StringComparison.Ordinal)
            .Replace("@Row@", e.Row, StringComparison.Ordinal)
            .Replace("@Status@", e.Status, StringComparison.Ordinal)
            .Replace("@Filter@", e.Filter, StringComparison.Ordinal)
            .Replace("@Mapping@", e.Mapping, StringComparison.Ordinal)
            .Replace("@Plural@", e.Plural, StringComparison.Ordinal)
            .Replace("@Table@", e.Table, StringComparison.Ordinal)
            .Replace("@Lower@", e.Name.ToLowerInvariant(), StringComparison.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            c.W.Line(line.TrimEnd());
        }
    }

    /// <summary>How many methods a template holds (a method header is a line that starts with an access modifier).</summary>
    public static int MethodCount(string template) =>
        template.Split('\n').Count(l => l.StartsWith("public ", StringComparison.Ordinal) || l.StartsWith("private ", StringComparison.Ordinal));
}
