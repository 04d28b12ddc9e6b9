"""Date formats of the admin (FORMAT_MODULE_PATH): one format, with seconds.

Django's English formats ("Dec. 1, 2026, 11:02 a.m.") drop the seconds a DBA
needs to line events up; these match perfconsole.core.formatting.timestamp.
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
