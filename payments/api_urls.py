"""REST API of the payments app (mounted under /api/payments/)."""
from django.urls import path

from payments import api

urlpatterns = [
    path("requests/", api.RequestList.as_view(), name="api-payment-requests"),
    path("requests/file-many/", api.RequestFileMany.as_view(), name="api-payment-requests-file-many"),
    path("requests/<int:pk>/submit/", api.RequestAction.as_view(action_name="submit"),
         name="api-payment-request-submit"),
    path("requests/<int:pk>/approve/", api.RequestAction.as_view(action_name="approve"),
         name="api-payment-request-approve"),
    path("requests/<int:pk>/reject/", api.RequestAction.as_view(action_name="reject"),
         name="api-payment-request-reject"),
    path("batches/", api.BatchCreate.as_view(), name="api-voucher-batches"),
    path("batches/<int:pk>/csv/", api.BatchExport.as_view(fmt="csv"), name="api-batch-csv"),
    path("batches/<int:pk>/pain001/", api.BatchExport.as_view(fmt="pain001"),
         name="api-batch-pain001"),
    path("bank-files/", api.BankFileUpload.as_view(), name="api-bank-files"),
    path("exceptions/", api.ExceptionList.as_view(), name="api-recon-exceptions"),
    path("exceptions/<int:pk>/resolve/", api.ExceptionResolve.as_view(),
         name="api-recon-exception-resolve"),
]
